"""Forewarn: proactive IT management for small businesses and their IT providers."""

__version__ = "0.1.0"
