"""Whether a host firewall filters incoming traffic: ufw, firewalld, nftables or iptables.

The server alerts when `active` goes from true to false (domain.activity): the firewall
turned off "for a test" and never on again. Active means: ufw or firewalld says so, or the
nftables/iptables input chain drops by default or holds filter rules. Reading the rules
needs root, as the agent runs; without any tool the section says active None (unknown).
"""

from __future__ import annotations

import re
from typing import Any

from forewarn.agent.collectors._run import run_tool

Firewall = dict[str, Any]

_NFT_INPUT = re.compile(r"type filter hook input\b[^;]*;\s*policy (\w+);")


def parse_ufw(text: str) -> Firewall | None:
    """`ufw status`: "Status: active" or "Status: inactive"."""
    for line in text.splitlines():
        if line.lower().startswith("status:"):
            active = line.split(":", 1)[1].strip().lower() == "active"
            return {"active": active, "tool": "ufw"}
    return None


def parse_nft(text: str) -> Firewall:
    """`nft list ruleset`: the input hook's policy and the number of rules in filter chains."""
    policy = ""
    rules = 0
    in_filter_chain = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("chain "):
            in_filter_chain = False
            continue
        if line.startswith("type filter hook"):
            in_filter_chain = True
            m = _NFT_INPUT.search(line)
            if m:
                policy = m.group(1)
            continue
        if in_filter_chain and line and line not in ("}",) and not line.startswith("#"):
            rules += 1
    active = policy in ("drop", "reject") or rules > 0
    return {"active": active, "tool": "nftables", "rules": rules, "input_policy": policy}


def parse_iptables(text: str) -> Firewall:
    """`iptables -S`: "-P INPUT DROP" and one "-A CHAIN ..." line per rule."""
    policy = ""
    rules = 0
    for line in text.splitlines():
        parts = line.split()
        if parts[:2] == ["-P", "INPUT"] and len(parts) > 2:
            policy = parts[2].lower()
        elif parts[:1] == ["-A"]:
            rules += 1
    active = policy in ("drop", "reject") or rules > 0
    return {"active": active, "tool": "iptables", "rules": rules, "input_policy": policy}


def collect() -> Firewall:
    """The Firewall section: the first tool that answers decides."""
    text = run_tool(["ufw", "status"])
    if text is not None:
        found = parse_ufw(text)
        if found is not None:
            return found
    text = run_tool(["firewall-cmd", "--state"], ok_codes=(0, 252))
    if text is not None and text.strip():
        return {"active": text.strip() == "running", "tool": "firewalld"}
    text = run_tool(["nft", "list", "ruleset"])
    if text is not None:
        return parse_nft(text)
    text = run_tool(["iptables", "-S"])
    if text is not None:
        return parse_iptables(text)
    return {"active": None}
