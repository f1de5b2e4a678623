"""Executors run one job's command or script somewhere and report its output and end."""
