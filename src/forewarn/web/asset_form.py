"""The asset form: its fields as typed, and the input AssetCreate / AssetUpdate expect."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData

from forewarn.services.schemas import AssetOut
from forewarn.web.forms import text

FIELDS = (
    "kind",
    "name",
    "hostname",
    "site_id",
    "criticality",
    "owner",
    "location",
    "purchase_date",
    "warranty_end",
    "tags",
    "notes",
)

HINTS = {
    "kind": "Choose a kind from the list.",
    "site_id": "Choose a site of this organization, or none.",
    "hostname": "A host name or IP address, without spaces.",
    "criticality": "Choose a level from 1 to 5.",
    "tags": "Separate tags with commas; each is letters, digits and _ . : - without spaces.",
}


def blank(site_id: str = "") -> dict[str, str]:
    values = dict.fromkeys(FIELDS, "")
    values.update(kind="workstation", criticality="3", site_id=site_id)
    return values


def from_asset(asset: AssetOut) -> dict[str, str]:
    return {
        "kind": asset.kind.value,
        "name": asset.name,
        "hostname": asset.hostname,
        "site_id": "" if asset.site_id is None else str(asset.site_id),
        "criticality": str(asset.criticality),
        "owner": asset.owner,
        "location": asset.location,
        "purchase_date": "" if asset.purchase_date is None else asset.purchase_date.isoformat(),
        "warranty_end": "" if asset.warranty_end is None else asset.warranty_end.isoformat(),
        "tags": ", ".join(asset.tags),
        "notes": asset.notes,
    }


def from_form(form: FormData) -> dict[str, str]:
    return {key: text(form, key) for key in FIELDS}


def split_tags(raw: str) -> list[str]:
    return [t.strip() for t in raw.split(",") if t.strip()]


def to_input(values: dict[str, str]) -> dict[str, Any]:
    """Every field, blanks as None where the service allows 'not known'."""
    return {
        "kind": values["kind"],
        "name": values["name"],
        "hostname": values["hostname"],
        "site_id": values["site_id"] or None,
        "criticality": values["criticality"] or 3,
        "owner": values["owner"],
        "location": values["location"],
        "purchase_date": values["purchase_date"].strip() or None,
        "warranty_end": values["warranty_end"].strip() or None,
        "tags": split_tags(values["tags"]),
        "notes": values["notes"],
    }
