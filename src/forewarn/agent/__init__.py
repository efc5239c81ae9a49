"""The endpoint agent: collects metrics and inventory, buffers them, checks in.

It imports only the standard library, psutil, forewarn.domain and its own modules: it runs on
every machine a client owns, so its resident memory is a budget (DESIGN.md: a bare Python is
8.5 MB, psutil brings it to 12.5 MB; pydantic would more than double it). It builds plain
dicts of the shapes in forewarn.wire, which the server validates.
"""

from forewarn import __version__ as AGENT_VERSION

__all__ = ["AGENT_VERSION"]
