"""Vulnerable packages on the pages: per asset (a card on the asset page, and a page of its
own) and per organization, always with the date of the data they come from."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.services import assets, orgs, vulns
from forewarn.services.vulns import VulnOut
from forewarn.web import findings_views
from forewarn.web.render import fragment, page, wants_fragment
from forewarn.web.session import SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def kev_words(vuln: VulnOut) -> str:
    if vuln.kev is None:
        return "unknown"
    if not vuln.kev:
        return "no"
    return "Known exploited, ransomware" if vuln.ransomware else "Known exploited"


def helpers() -> dict[str, object]:
    return {
        "percent": percent,
        "kev_words": kev_words,
        "severity": findings_views.severity,
    }


@router.get("/assets/{asset_id}/vulnerabilities")
def asset_vulnerabilities(request: Request, asset_id: WebId, user: SignedIn) -> Response:
    """The asset's vulnerable packages, known exploited first. The asset page loads a summary
    card with htmx; without JavaScript, and from the card, this is a page of its own."""
    ctx, actor = get_ctx(request), user.actor
    asset = assets.get(ctx, actor, asset_id)
    org = orgs.get(ctx, actor, asset.org_id)
    found = vulns.for_asset(ctx, actor, asset_id)
    data = {"org": org, "asset": asset, "v": found, "tz": org.timezone, **helpers()}
    if wants_fragment(request, "asset-vulns"):
        return fragment(request, "vulns/_asset_card.html", user, **data)
    return page(request, "vulns/asset.html", user, section="overview", **data)


@router.get("/orgs/{org_id}/vulnerabilities")
def org_vulnerabilities(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """The organization's vulnerabilities, most urgent first, with the assets they are on."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    found = vulns.for_org(ctx, actor, org_id, limit=300)
    return page(
        request,
        "vulns/org.html",
        user,
        section="overview",
        org=org,
        v=found,
        tz=org.timezone,
        **helpers(),
    )
