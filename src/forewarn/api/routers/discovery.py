"""Network discovery: networks, runs, devices found (their findings: routers/findings.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from forewarn.api.deps import Caller, Ctx, Cursor, IdPath, IdQuery, Limit
from forewarn.api.pages import PageOut, page_out
from forewarn.services import discovery
from forewarn.services.discovery import (
    Adopted,
    AdoptRequest,
    DeviceOut,
    DeviceState,
    NetworkCreate,
    NetworkOut,
    RunOut,
)

router = APIRouter(prefix="/api/v1")


@router.get("/discovery/networks", response_model=PageOut[NetworkOut], tags=["discovery"])
def list_networks(
    ctx: Ctx, actor: Caller, org_id: IdQuery = None, limit: Limit = 50, cursor: Cursor = None
) -> PageOut[NetworkOut]:
    return page_out(discovery.list_networks(ctx, actor, org_id=org_id, limit=limit, cursor=cursor))


@router.post("/discovery/networks", response_model=NetworkOut, status_code=201, tags=["discovery"])
def create_network(body: NetworkCreate, ctx: Ctx, actor: Caller) -> NetworkOut:
    """Allow a network to be swept (admins). At most a /22 of IPv4 or a /120 of IPv6; never
    0.0.0.0/8, multicast, link-local or loopback (422 saying why)."""
    return discovery.create_network(ctx, actor, body)


@router.delete("/discovery/networks/{network_id}", status_code=204, tags=["discovery"])
def delete_network(network_id: IdPath, ctx: Ctx, actor: Caller) -> None:
    discovery.delete_network(ctx, actor, network_id)


@router.post("/discovery/networks/{network_id}/run", response_model=RunOut, tags=["discovery"])
def run_network(network_id: IdPath, ctx: Ctx, actor: Caller) -> RunOut:
    """Sweep the network now and answer the recorded run (admins). Bounded: 200 probes/s,
    64 in flight, 120 s at most; a sweep that fails is answered as a failed run. A network
    swept by an agent is answered at once as `running`: the agent sweeps it after its next
    check-in, and the run shows its result (GET /discovery/runs) once the agent reported."""
    return discovery.run(ctx, actor, network_id)


@router.get("/discovery/runs", response_model=PageOut[RunOut], tags=["discovery"])
def list_runs(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    network_id: IdQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[RunOut]:
    return page_out(
        discovery.list_runs(
            ctx, actor, org_id=org_id, network_id=network_id, limit=limit, cursor=cursor
        )
    )


@router.get("/discovery/devices", response_model=PageOut[DeviceOut], tags=["discovery"])
def list_devices(
    ctx: Ctx,
    actor: Caller,
    org_id: IdQuery = None,
    network_id: IdQuery = None,
    state: Annotated[DeviceState | None, Query(description="new, adopted or ignored")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PageOut[DeviceOut]:
    return page_out(
        discovery.list_devices(
            ctx,
            actor,
            org_id=org_id,
            network_id=network_id,
            state=state,
            limit=limit,
            cursor=cursor,
        )
    )


@router.post(
    "/discovery/devices/{device_id}/adopt",
    response_model=Adopted,
    status_code=201,
    tags=["discovery"],
)
def adopt_device(
    device_id: IdPath, ctx: Ctx, actor: Caller, body: AdoptRequest | None = None
) -> Adopted:
    """Make the device an asset with suggested checks (technicians); resolves its finding."""
    return discovery.adopt(ctx, actor, device_id, body or AdoptRequest())


@router.post("/discovery/devices/{device_id}/ignore", response_model=DeviceOut, tags=["discovery"])
def ignore_device(device_id: IdPath, ctx: Ctx, actor: Caller) -> DeviceOut:
    """Known and not wanted as an asset (technicians); resolves its finding."""
    return discovery.ignore(ctx, actor, device_id)
