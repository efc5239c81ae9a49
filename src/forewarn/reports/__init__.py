"""Reports and their charts, rendered from data a service produced; no web or database access."""
