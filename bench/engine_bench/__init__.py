"""Helpers of bench/engine.py (a package, so that `make bench` does not run them as scripts)."""
