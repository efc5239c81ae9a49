"""Which checks apply to an asset, from the policies that reach it, and where each came from.

Policies are ranked from broad to specific: the provider's, the provider's for a tag, the
organization's, the organization's for a tag, the site's, the asset's own. Walking them in that
order, a check named for the first time is *defined*; named again lower down it is
*overridden* (the fields given replace the inherited ones, params key by key); an exclusion
removes it, and a still more specific policy may bring it back. The result keeps every name
seen, so a technician can see why a check is there, or why not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

RANKS = {"provider": 0, "provider_tag": 1, "org": 2, "org_tag": 3, "site": 4, "asset": 5}


@dataclass(frozen=True)
class PolicyDef:
    id: int
    name: str
    rank: int
    checks: tuple[dict[str, Any], ...] = ()
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class Source:
    policy_id: int
    policy_name: str
    action: str  # defines | overrides | excludes | restores


@dataclass
class Effective:
    name: str
    definition: dict[str, Any]
    sources: list[Source] = field(default_factory=list)
    excluded: bool = False

    @property
    def origin(self) -> Source:
        """The policy that decided last: the one to name as this check's source."""
        return self.sources[-1]


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = {**base, **{k: v for k, v in override.items() if k != "params"}}
    if "params" in override:
        out["params"] = {**base.get("params", {}), **override["params"]}
    return out


def effective(policies: Iterable[PolicyDef]) -> list[Effective]:
    """The checks an asset gets from `policies` (any order), by name, excluded ones included."""
    found: dict[str, Effective] = {}
    for p in sorted(policies, key=lambda p: (p.rank, p.id)):
        for check in p.checks:
            name = check["name"]
            current = found.get(name)
            if current is None:
                found[name] = Effective(name, dict(check), [Source(p.id, p.name, "defines")])
                continue
            action = "restores" if current.excluded else "overrides"
            current.definition = merge(current.definition, check)
            current.excluded = False
            current.sources.append(Source(p.id, p.name, action))
        for name in p.exclude:
            current = found.get(name)
            if current is not None and not current.excluded:
                current.excluded = True
                current.sources.append(Source(p.id, p.name, "excludes"))
    return sorted(found.values(), key=lambda e: e.name)


def render_target(template: str, *, host: str, name: str) -> str:
    """`{host}` is the asset's host name (its name when it has none), `{name}` its name."""
    return template.replace("{host}", host or name).replace("{name}", name)
