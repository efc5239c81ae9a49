"""The forms of network discovery: a network to sweep, and a device to adopt as an asset."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData

from forewarn.services.discovery import AdoptRequest, DeviceOut, NetworkCreate
from forewarn.web.discovery_views import default_kind, default_name
from forewarn.web.forms import FieldErrors, from_validation, text

NETWORK_HINTS = {
    "cidr": "A network such as 192.168.1.0/24: at most a /22 of IPv4 or a /120 of IPv6.",
    "agent_id": "A network the server cannot reach (a client's office) is swept by an agent "
    "there, which reports the result at its next check-ins.",
    "communities": "SNMP v2c communities to try, one a line, at most 10; each 1 to 64 "
    "characters without tabs. Stored encrypted and never shown again.",
}
# The service names the communities snmp_communities; the form, communities.
_FIELD = {"snmp_communities": "communities"}


def blank_network() -> dict[str, str]:
    return {"cidr": "", "site_id": "", "agent_id": "", "communities": ""}


def network_values(form: FormData) -> dict[str, str]:
    return {
        "cidr": text(form, "cidr").strip()[:200],
        "site_id": text(form, "site_id").strip()[:20],
        "agent_id": text(form, "agent_id").strip()[:20],
        "communities": text(form, "communities")[:2000],
    }


def _communities(typed: str) -> list[str]:
    """One a line; blank lines and the spaces around a line do not count."""
    return [line.strip() for line in typed.splitlines() if line.strip()]


def place(errors: FieldErrors) -> FieldErrors:
    out: FieldErrors = {}
    for key, messages in errors.items():
        out.setdefault(_FIELD.get(key, key), []).extend(messages)
    return out


def network_input(org_id: int, values: dict[str, str]) -> tuple[NetworkCreate | None, FieldErrors]:
    data: dict[str, Any] = {
        "org_id": org_id,
        "cidr": values["cidr"],
        "site_id": values["site_id"] or None,
        "agent_id": values["agent_id"] or None,
        "snmp_communities": _communities(values["communities"]),
    }
    hints = {"snmp_communities": NETWORK_HINTS["communities"]}
    try:
        return NetworkCreate.model_validate(data), {}
    except ValidationError as exc:
        return None, place(from_validation(exc, hints))


# ---- adopting ---------------------------------------------------------------------------------


def adopt_values(device: DeviceOut, form: FormData | None = None) -> dict[str, str]:
    """What the adopt form shows: the service's own proposal until someone types."""
    if form is None:
        return {"name": default_name(device), "kind": default_kind(device)}
    return {"name": text(form, "name").strip()[:300], "kind": text(form, "kind").strip()[:40]}


def adopt_input(
    device: DeviceOut, values: dict[str, str]
) -> tuple[AdoptRequest | None, FieldErrors]:
    """The request; what was left as proposed goes as "no override", so the service decides
    it as it would unasked (a free name, a NAS's tag)."""
    name = values["name"]
    kind = values["kind"]
    data = {
        "name": None if name in ("", default_name(device)) else name,
        "kind": None if kind == default_kind(device) else kind,
    }
    try:
        return AdoptRequest.model_validate(data), {}
    except ValidationError as exc:
        return None, from_validation(exc)
