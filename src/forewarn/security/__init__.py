"""Security oversight: posture policies (YAML) and the rules of their format."""
