"""The agent's collectors: one module per kind of fact, each tolerant of what the system lacks."""
