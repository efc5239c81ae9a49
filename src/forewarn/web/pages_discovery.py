"""Network discovery on the pages: the networks an organization lets Forewarn sweep, what the
sweeps found, and adopting or ignoring each device."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.domain.inventory import Role
from forewarn.services import assets, discovery, orgs
from forewarn.services.discovery import DeviceOut, NetworkOut
from forewarn.services.errors import ServiceError, not_found
from forewarn.services.schemas import OrgOut
from forewarn.services.scope import require
from forewarn.web import discovery_form, discovery_views, findings_views
from forewarn.web.check_views import org_assets
from forewarn.web.flash import add_flash
from forewarn.web.forms import FieldErrors, attempt, text
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)


def _base(org_id: int) -> str:
    return f"/orgs/{org_id}/discovery"


def _helpers() -> dict[str, Any]:
    return {
        "run_state": discovery_views.run_state,
        "communities_text": discovery_views.communities_text,
        "guess_label": discovery_views.guess_label,
        "kind_reason": discovery_views.kind_reason,
        "ports_text": discovery_views.ports_text,
        "device_label": discovery_views.device_label,
        "adopt_values": discovery_form.adopt_values,
        "kind_options": discovery_views.KIND_OPTIONS,
        "sweep_note": discovery_views.SWEEP_NOTE,
        "never_swept": discovery_views.NEVER_SWEPT,
    }


# ---- networks ---------------------------------------------------------------------------------


def _networks_page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    names = discovery_views.site_names(ctx, actor, org.id)
    agent_names = discovery_views.agent_names(ctx, actor, org.id)
    found = discovery_views.networks(ctx, actor, org.id)
    devices = discovery_views.org_devices(ctx, actor, org.id) if found else []
    table = discovery_views.device_table(devices, org.id, "new", 1)
    return page(
        request,
        "discovery/list.html",
        user,
        status=status,
        section="overview",
        org=org,
        tz=org.timezone,
        rows=discovery_views.network_rows(ctx, actor, found, names, agent_names),
        site_options=sorted(names.items(), key=lambda kv: kv[1].lower()),
        agent_options=sorted(agent_names.items(), key=lambda kv: kv[1].lower()),
        table=table,
        states=discovery_views.STATES,
        values=values or discovery_form.blank_network(),
        errors=errors or {},
        hints=discovery_form.NETWORK_HINTS,
        **_helpers(),
    )


@router.get("/orgs/{org_id}/discovery")
def networks_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    return _networks_page(request, user, org)


@router.post("/orgs/{org_id}/discovery/networks")
def add_network(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    values = discovery_form.network_values(form)
    data, errors = discovery_form.network_input(org_id, values)
    created = None
    if data is not None:
        valid = data
        created, errors = attempt(
            lambda: discovery.create_network(ctx, actor, valid), clash_field="cidr"
        )
    if created is None:
        errors = discovery_form.place(errors)
        return _networks_page(request, user, org, values=values, errors=errors, status=422)
    response = see_other(f"{_base(org_id)}#network-{created.id}")
    add_flash(
        ctx, response, f"Added the network {created.cidr}. Sweep it now to see what is on it."
    )
    return response


def _network_of(request: Request, user: WebUser, org_id: int, network_id: int) -> NetworkOut:
    """The network, when it is one of this organization's (else a 404 like any other)."""
    for net in discovery_views.networks(get_ctx(request), user.actor, org_id):
        if net.id == network_id:
            return net
    raise not_found("network")


@router.post("/orgs/{org_id}/discovery/networks/{network_id}/sweep")
def sweep(
    request: Request, org_id: WebId, network_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Sweep now, while the browser waits (two minutes at most), then show the result."""
    ctx, actor = get_ctx(request), user.actor
    orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    net = _network_of(request, user, org_id, network_id)
    response = see_other(f"{_base(org_id)}#network-{network_id}")
    try:
        run = discovery.run(ctx, actor, network_id)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        add_flash(ctx, response, f"{net.cidr} was not swept: {exc.detail}.", "warning")
        return response
    if run.status == "running":  # an agent sweeps it
        add_flash(
            ctx,
            response,
            f"Asked the agent to sweep {net.cidr}: it starts at its next check-in, and the "
            "result appears here a few minutes later.",
        )
    elif run.status == "done":
        found = f"{run.found} device{'' if run.found == 1 else 's'} found, {run.new} new"
        add_flash(ctx, response, f"Swept {net.cidr}: {run.addresses} addresses, {found}.")
    else:
        add_flash(ctx, response, f"The sweep of {net.cidr} failed: {run.error}", "critical")
    return response


@router.get("/orgs/{org_id}/discovery/networks/{network_id}/delete")
def confirm_delete_network(
    request: Request, org_id: WebId, network_id: WebId, user: SignedIn
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.ADMIN)
    net = _network_of(request, user, org_id, network_id)
    return page(
        request,
        "confirm_delete.html",
        user,
        section="overview",
        org=org,
        what="network",
        name=net.cidr,
        consequence="It is not swept again; its sweeps and the devices found on it are removed "
        "and their open findings resolved. Assets adopted from it stay.",
        action=f"{_base(org_id)}/networks/{network_id}/delete",
        cancel=_base(org_id),
    )


@router.post("/orgs/{org_id}/discovery/networks/{network_id}/delete")
def delete_network(
    request: Request, org_id: WebId, network_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    orgs.get(ctx, actor, org_id)
    net = _network_of(request, user, org_id, network_id)
    discovery.delete_network(ctx, actor, network_id)
    response = see_other(_base(org_id))
    add_flash(ctx, response, f"Deleted the network {net.cidr}.", "info")
    return response


# ---- devices ----------------------------------------------------------------------------------


@router.get("/orgs/{org_id}/discovery/devices")
def devices_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    """The devices found, newest first: ?state=new|adopted|ignored|all, ?network=ID, ?page=N."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    params = request.query_params
    networks = {n.id: n.cidr for n in discovery_views.networks(ctx, actor, org_id)}
    network_id = discovery_views.read_id(params.get("network"))
    table = discovery_views.device_table(
        discovery_views.org_devices(ctx, actor, org_id),
        org_id,
        discovery_views.read_state(params.get("state")),
        discovery_views.read_page(params.get("page")),
        network_id if network_id in networks else None,
    )
    adopted = any(d.asset_id for d in table.items)
    # A finding's evidence holds the guess's reason word for word; the newest one wins.
    evidence: dict[int, dict[str, Any]] = {}
    for f in discovery_views.all_findings(ctx, actor, org_id) if table.items else []:
        about = findings_views.device_id(f)
        if about is not None:
            evidence.setdefault(about, f.evidence)
    return page(
        request,
        "discovery/devices.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        table=table,
        states=discovery_views.STATES,
        networks=networks,
        asset_names=_asset_names(request, user, org_id) if adopted else {},
        evidence=evidence,
        **_helpers(),
    )


def _asset_names(request: Request, user: WebUser, org_id: int) -> dict[int, str]:
    return {i: a.name for i, a in org_assets(get_ctx(request), user.actor, org_id).items()}


def _device_page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    device: DeviceOut,
    *,
    values: dict[str, str] | None = None,
    errors: FieldErrors | None = None,
    status: int = 200,
) -> Response:
    ctx, actor = get_ctx(request), user.actor
    findings = [
        f
        for f in discovery_views.all_findings(ctx, actor, org.id)
        if findings_views.device_id(f) == device.id
    ]
    evidence = findings[0].evidence if findings else None
    asset = assets.get(ctx, actor, device.asset_id) if device.asset_id else None
    networks = {n.id: n for n in discovery_views.networks(ctx, actor, org.id)}
    return page(
        request,
        "discovery/device.html",
        user,
        status=status,
        section="overview",
        org=org,
        tz=org.timezone,
        device=device,
        network=networks.get(device.network_id),
        asset=asset,
        reason=discovery_views.kind_reason(device, evidence),
        findings=findings,
        severity=findings_views.severity,
        values=values or discovery_form.adopt_values(device),
        errors=errors or {},
        **_helpers(),
    )


@router.get("/orgs/{org_id}/discovery/devices/{device_id}")
def device_page(request: Request, org_id: WebId, device_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    device = discovery_views.find_device(ctx, actor, org_id, device_id)
    return _device_page(request, user, org, device)


@router.post("/orgs/{org_id}/discovery/devices/{device_id}/adopt")
def adopt(
    request: Request, org_id: WebId, device_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Make the device an asset; the name and kind left as proposed are the service's own."""
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.TECHNICIAN)
    device = discovery_views.find_device(ctx, actor, org_id, device_id)
    here = f"{_base(org_id)}/devices/{device_id}"
    if device.state == "adopted":
        response = see_other(here)
        add_flash(ctx, response, "This device was already adopted.", "info")
        return response
    values = discovery_form.adopt_values(device, form)
    data, errors = discovery_form.adopt_input(device, values)
    done = None
    if data is not None:
        valid = data
        done, errors = attempt(lambda: discovery.adopt(ctx, actor, device_id, valid))
    if done is None:
        return _device_page(request, user, org, device, values=values, errors=errors, status=422)
    response = see_other(here)
    names = ", ".join(c.name for c in done.checks) or "none"
    add_flash(
        ctx,
        response,
        f"Adopted {device.address} as the asset {done.asset.name}, with the checks: {names}.",
    )
    return response


@router.post("/orgs/{org_id}/discovery/devices/{device_id}/ignore")
def ignore(
    request: Request, org_id: WebId, device_id: WebId, user: SignedIn, form: PostedForm
) -> Response:
    """Known and not wanted as an asset; back to the list it was ignored from."""
    ctx, actor = get_ctx(request), user.actor
    orgs.get(ctx, actor, org_id)
    require(actor, org_id, Role.TECHNICIAN)
    device = discovery_views.find_device(ctx, actor, org_id, device_id)
    state = discovery_views.read_state(text(form, "state"))
    page_no = discovery_views.read_page(text(form, "page"))
    back = discovery_views.devices_url(org_id, state, page_no)
    if text(form, "back") == "device":
        back = f"{_base(org_id)}/devices/{device_id}"
    response = see_other(back)
    try:
        discovery.ignore(ctx, actor, device_id)
    except ServiceError as exc:
        if exc.status != 409:
            raise
        add_flash(ctx, response, f"{device.address} was not ignored: {exc.detail}.", "warning")
        return response
    label = discovery_views.device_label(device)
    shown = device.address if label == device.address else f"{label} ({device.address})"
    add_flash(ctx, response, f"Ignored {shown}: it is listed under Ignored from now on.", "info")
    return response
