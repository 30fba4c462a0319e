"""Settings and wiring: the one place that reads the environment and picks adapters."""
