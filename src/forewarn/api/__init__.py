"""The HTTP face: parse, authorize, call a service, answer."""
