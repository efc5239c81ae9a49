"""The dashboard: server-rendered pages (Jinja2 + htmx) mounted on the one app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from forewarn.web import (
    errors,
    pages_account,
    pages_agents,
    pages_alerts,
    pages_assessments,
    pages_assets,
    pages_auth,
    pages_automation,
    pages_checks,
    pages_discovery,
    pages_expiries,
    pages_findings,
    pages_import,
    pages_jobs,
    pages_maintenance,
    pages_members,
    pages_notifications,
    pages_orgs,
    pages_patch_policies,
    pages_patches,
    pages_people,
    pages_policies,
    pages_posture,
    pages_problems,
    pages_reports,
    pages_silences,
    pages_sites,
    pages_status,
    pages_status_admin,
    pages_tickets,
    pages_vulns,
)

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to the app."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    modules = (
        pages_auth,
        pages_orgs,
        pages_members,
        pages_sites,
        pages_assets,
        pages_agents,
        pages_import,
        pages_account,
        pages_people,
        pages_checks,
        pages_problems,
        pages_maintenance,
        pages_status,
        pages_policies,
        pages_status_admin,
        pages_discovery,
        pages_findings,
        pages_expiries,
        pages_posture,
        pages_patches,
        pages_alerts,
        pages_notifications,
        pages_tickets,
        pages_vulns,
        pages_jobs,
        pages_reports,
        pages_assessments,
        pages_patch_policies,
        pages_automation,
        pages_silences,
    )
    for module in modules:
        app.include_router(module.router)
    errors.install(app)
