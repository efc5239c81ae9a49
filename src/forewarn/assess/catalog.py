"""The safeguards an assessment scores: CIS Controls v8 IG1 by id, in our own words.

Read once from data/assessment/catalog.yml and checked on the way in: a broken catalog is a
bug the tests catch, never something a user meets half-way through an assessment.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

EVIDENCE_CLASSES = ("A", "P", "Q")

# NIST CSF 2.0: function -> its categories (reference/assessment.md).
CSF_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "GV": ("GV.OC", "GV.RM", "GV.RR", "GV.PO", "GV.OV", "GV.SC"),
    "ID": ("ID.AM", "ID.RA", "ID.IM"),
    "PR": ("PR.AA", "PR.AT", "PR.DS", "PR.PS", "PR.IR"),
    "DE": ("DE.CM", "DE.AE"),
    "RS": ("RS.MA", "RS.AN", "RS.CO", "RS.MI"),
    "RC": ("RC.RP", "RC.CO"),
}
CSF_NAMES = {
    "GV": "Govern",
    "ID": "Identify",
    "PR": "Protect",
    "DE": "Detect",
    "RS": "Respond",
    "RC": "Recover",
}


class CatalogError(ValueError):
    """The shipped catalog is malformed (a bug: tests/unit/test_assess_catalog.py)."""


@dataclass(frozen=True)
class Safeguard:
    id: str  # "4.4"
    control: int  # 4
    title: str
    guidance: str
    evidence: str  # A | P | Q
    csf: str  # "PR.PS"
    weight: float = 1.0

    @property
    def function(self) -> str:
        return self.csf.split(".", 1)[0]


@dataclass(frozen=True)
class Catalog:
    version: int
    controls: dict[int, str]
    safeguards: tuple[Safeguard, ...]

    def get(self, safeguard_id: str) -> Safeguard | None:
        return self._by_id().get(safeguard_id)

    def ids(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.safeguards)

    def _by_id(self) -> dict[str, Safeguard]:
        return {s.id: s for s in self.safeguards}


def _safeguard(item: Any, controls: dict[int, str]) -> Safeguard:
    if not isinstance(item, dict):
        raise CatalogError(f"a safeguard must be a mapping, not {item!r}")
    sid = str(item.get("id", ""))
    head, _, tail = sid.partition(".")
    if not (head.isdigit() and tail.isdigit()):
        raise CatalogError(f"safeguard id {sid!r} is not CONTROL.NUMBER")
    control = int(head)
    if control not in controls:
        raise CatalogError(f"safeguard {sid}: control {control} is not listed")
    ev = str(item.get("ev", ""))
    if ev not in EVIDENCE_CLASSES:
        raise CatalogError(f"safeguard {sid}: evidence class {ev!r} is not A, P or Q")
    csf = str(item.get("csf", ""))
    if csf not in {c for cats in CSF_FUNCTIONS.values() for c in cats}:
        raise CatalogError(f"safeguard {sid}: {csf!r} is not a NIST CSF 2.0 category")
    title, guidance = str(item.get("title", "")), str(item.get("guidance", ""))
    if not title or not guidance:
        raise CatalogError(f"safeguard {sid}: title and guidance are required")
    return Safeguard(sid, control, title, guidance, ev, csf, float(item.get("weight", 1.0)))


def parse(text: str) -> Catalog:
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise CatalogError("the catalog must be a mapping")
    controls = {int(k): str(v) for k, v in (doc.get("controls") or {}).items()}
    safeguards = tuple(_safeguard(i, controls) for i in doc.get("safeguards") or [])
    ids = [s.id for s in safeguards]
    if len(set(ids)) != len(ids):
        raise CatalogError("safeguard ids repeat")
    unused = set(controls) - {s.control for s in safeguards}
    if unused:
        raise CatalogError(f"controls without safeguards: {sorted(unused)}")
    return Catalog(int(doc.get("version", 1)), controls, safeguards)


@lru_cache(maxsize=1)
def load() -> Catalog:
    """The shipped catalog, parsed and checked once."""
    text = (resources.files("forewarn.data") / "assessment" / "catalog.yml").read_text("utf-8")
    return parse(text)
