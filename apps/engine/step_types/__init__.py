"""The engine half of each step type: start / on_event / stop (see apps.engine.runtime)."""
