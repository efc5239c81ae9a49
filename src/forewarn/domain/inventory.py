"""Vocabulary of the inventory: asset kinds, roles, and their rules."""

from __future__ import annotations

import re
from enum import StrEnum


class AssetKind(StrEnum):
    WORKSTATION = "workstation"
    LAPTOP = "laptop"
    SERVER = "server"
    NETWORK_DEVICE = "network_device"
    PRINTER = "printer"
    UPS = "ups"
    WEBSITE = "website"
    CLOUD_SERVICE = "cloud_service"
    OTHER = "other"


class Role(StrEnum):
    """A role held in one organization. Order matters: each includes the ones before."""

    VIEWER = "viewer"
    TECHNICIAN = "technician"
    ADMIN = "admin"


ROLE_RANK = {Role.VIEWER: 1, Role.TECHNICIAN: 2, Role.ADMIN: 3}


def role_allows(held: Role, needed: Role) -> bool:
    return ROLE_RANK[held] >= ROLE_RANK[needed]


_SLUG_STRIP = re.compile(r"[^a-z0-9]+")
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"
TAG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


def slugify(name: str) -> str:
    """A URL-safe slug from a display name ("Acme & Sons, Ltd." -> "acme-sons-ltd")."""
    slug = _SLUG_STRIP.sub("-", name.lower()).strip("-")
    return slug[:64].strip("-") or "org"


def normalize_tags(tags: list[str]) -> list[str]:
    """Tags compare case-insensitively; keep one of each, lower-cased, in sorted order."""
    return sorted({t.strip().lower() for t in tags if t.strip()})
