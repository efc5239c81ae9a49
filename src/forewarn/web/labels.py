"""The words the pages use for the inventory's codes."""

from __future__ import annotations

from forewarn.domain.inventory import AssetKind, Role

KIND_LABELS: dict[str, str] = {
    AssetKind.WORKSTATION: "Workstation",
    AssetKind.LAPTOP: "Laptop",
    AssetKind.SERVER: "Server",
    AssetKind.NETWORK_DEVICE: "Network device",
    AssetKind.PRINTER: "Printer",
    AssetKind.UPS: "UPS",
    AssetKind.WEBSITE: "Website",
    AssetKind.CLOUD_SERVICE: "Cloud service",
    AssetKind.OTHER: "Other",
}

CRITICALITY_LABELS: dict[int, str] = {
    1: "1 · Minor",
    2: "2 · Low",
    3: "3 · Moderate",
    4: "4 · High",
    5: "5 · Business stops",
}

ROLE_LABELS: dict[str, str] = {
    Role.VIEWER: "Viewer",
    Role.TECHNICIAN: "Technician",
    Role.ADMIN: "Admin",
}

ROLE_HINTS: dict[str, str] = {
    Role.VIEWER: "sees everything, changes nothing",
    Role.TECHNICIAN: "also manages sites and assets",
    Role.ADMIN: "also manages people and settings",
}

STATE_LABELS: dict[str, str] = {
    "ok": "OK",
    "warning": "Warning",
    "critical": "Critical",
    "unknown": "Unknown",
    "maintenance": "Maintenance",
}

WEEKDAYS = [(1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun")]


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role.capitalize())


def criticality_label(level: int) -> str:
    return CRITICALITY_LABELS.get(level, str(level))
