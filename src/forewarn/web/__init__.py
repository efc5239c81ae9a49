"""The dashboard: server-rendered pages with htmx."""
