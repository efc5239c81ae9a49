"""What the policy pages show: where a policy applies in words, its checks with the settings
they change, and the chain of policies that decided each of an asset's effective checks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from forewarn.domain.policy import RANKS
from forewarn.probes import registry
from forewarn.services.schemas import EffectiveCheckOut, PolicyOut
from forewarn.web import check_form, check_params
from forewarn.web.check_views import seconds_text

LEVEL_LABELS = {
    "provider": "Provider",
    "provider_tag": "Provider, by tag",
    "org": "Organization",
    "org_tag": "Tag",
    "site": "Site",
    "asset": "Asset",
}
# The state of an effective check: (palette class, word).
EFFECTIVE_STATES = {
    "applied": ("ok", "Applied"),
    "excluded": ("disabled", "Excluded"),
    "manual": ("pending", "Manual"),
    "invalid": ("critical", "Invalid"),
}
_ACTIONS = {
    "defines": "defined by",
    "overrides": "overridden by",
    "excludes": "excluded by",
    "restores": "restored by",
}
_TIMING_LABELS = {
    "interval_s": "every",
    "retry_interval_s": "retry every",
    "max_attempts": "attempts",
    "timeout_s": "time-out",
}


def by_rank(found: list[PolicyOut]) -> list[PolicyOut]:
    """Broad to specific, the order in which they are applied; then by name."""
    return sorted(found, key=lambda p: (RANKS.get(p.level, 9), p.name.lower(), p.id))


def level_label(level: str) -> str:
    return LEVEL_LABELS.get(level, level)


@dataclass(frozen=True)
class CheckRow:
    """One check of a policy as the list shows it."""

    name: str
    type_text: str  # "Ping (ICMP)", or "" for an override
    target: str
    settings: list[tuple[str, str]]


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _params_shown(check_type: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The settings a policy check sets, labelled as on the form; secrets stay masked."""
    if check_type not in registry.TYPES:
        return [(k, _shown(v)) for k, v in params.items()]
    known = {f.name: f for f in check_params.fields(check_type)}
    values = check_params.values_of(check_type, params)
    out = []
    for key, value in params.items():
        f = known.get(key)
        if f is None:
            out.append((key, _shown(value)))
        elif f.kind == "password":
            out.append((f.label, "••••••••"))
        elif f.kind == "checkbox":
            out.append((f.label, "yes" if value else "no"))
        else:
            out.append((f.label, values[f.input_name].replace("\n", ", ")))
    return out


def check_rows(p: PolicyOut) -> list[CheckRow]:
    rows = []
    for c in p.checks:
        check_type = str(c.get("type") or "")
        settings = _params_shown(check_type, c.get("params") or {})
        for key, label in _TIMING_LABELS.items():
            if c.get(key) is not None:
                shown = str(c[key]) if key == "max_attempts" else seconds_text(float(c[key]))
                settings.append((label, shown))
        if c.get("enabled") is not None:
            settings.append(("enabled", "yes" if c["enabled"] else "no"))
        rows.append(
            CheckRow(
                name=str(c["name"]),
                type_text=check_form.type_label(check_type) if check_type else "",
                target=str(c.get("target") or ""),
                settings=settings,
            )
        )
    return rows


def defined_names(found: list[PolicyOut], exclude_id: int | None = None) -> list[str]:
    """The check names other policies define: what an exclusion may name."""
    names = {str(c["name"]) for p in found if p.id != exclude_id for c in p.checks if c.get("type")}
    return sorted(names, key=str.lower)


# ---- an asset's effective checks ----------------------------------------------------------------


@dataclass(frozen=True)
class ChainLink:
    words: str  # "defined by"
    policy_name: str
    href: str  # "" when the viewer may not open that policy


@dataclass(frozen=True)
class EffectiveRow:
    check: EffectiveCheckOut
    css: str
    word: str
    chain: list[ChainLink]


def effective_rows(found: list[EffectiveCheckOut], hrefs: dict[int, str]) -> list[EffectiveRow]:
    """Each effective check with its state word and colour and the policies behind it;
    `hrefs` links the policies this viewer may open."""
    rows = []
    for e in found:
        css, word = EFFECTIVE_STATES.get(e.state, ("unknown", e.state.capitalize()))
        chain = [
            ChainLink(
                _ACTIONS.get(str(s["action"]), str(s["action"])),
                str(s["policy_name"]),
                hrefs.get(int(s["policy_id"]), ""),
            )
            for s in e.sources
        ]
        detail = e.detail.replace("Value error, ", "")
        rows.append(EffectiveRow(e.model_copy(update={"detail": detail}), css, word, chain))
    return rows


def policy_href(p: PolicyOut) -> str:
    base = f"/orgs/{p.org_id}/policies" if p.org_id is not None else "/policies"
    return f"{base}#policy-{p.id}"
