"""Targets of network checks: `host:port`, `[v6]:port`, host names."""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

HOST = re.compile(r"[^\s/:\[\]@?#]{1,253}")


def _ipv6(host: str, target: str) -> None:
    try:
        ipaddress.IPv6Address(host)
    except ValueError:
        raise ValueError(f"target {target!r}: {host!r} is not an IPv6 address") from None


@lru_cache(maxsize=4096)
def split_host_port(
    target: str, default_port: int | None = None, *, bare_ipv6: bool = False
) -> tuple[str, int]:
    """`host:port`, `[v6]:port` (or just the host when a default port is given; with
    `bare_ipv6`, also an IPv6 address without brackets and port).

    Cached: a poller parses the same few thousand targets over and over.
    """
    t = target.strip()
    if not t:
        raise ValueError("empty target: expected host:port")
    if "://" in t:
        raise ValueError(f"target {target!r}: expected host:port, not a URL")
    if t.startswith("["):
        inside, sep, rest = t[1:].partition("]")
        if not sep:
            raise ValueError(f"target {target!r}: missing ']' after the IPv6 address")
        host = inside
        _ipv6(host, target)
        port_text = rest[1:] if rest.startswith(":") else None
        if rest and port_text is None:
            raise ValueError(f"target {target!r}: expected ':port' after ']'")
    elif t.count(":") > 1:
        if not bare_ipv6 or default_port is None:
            raise ValueError(
                f"target {target!r}: write an IPv6 address in brackets, e.g. [::1]:443"
            )
        host, port_text = t, None
        _ipv6(host, target)
    else:
        host, sep, port_text_or_empty = t.partition(":")
        port_text = port_text_or_empty if sep else None
        if not HOST.fullmatch(host):
            raise ValueError(f"target {target!r}: {host!r} is not a host name or address")
    if port_text is None:
        if default_port is None:
            raise ValueError(f"target {target!r}: missing port, expected host:port")
        return host, default_port
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"target {target!r}: port must be a number from 1 to 65535")
    return host, int(port_text)
