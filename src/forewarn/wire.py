"""Agent <-> server payloads, versioned; shared by both sides. (The agent lands with issue 3.)"""

from __future__ import annotations

WIRE_VERSION = 1
