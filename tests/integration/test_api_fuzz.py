"""Schemathesis over our own OpenAPI document: whatever a client sends, the answer is never
5xx, and its status, content type and body are the ones the document promises.

Runs in-process against the ASGI app on each database engine (PostgreSQL is the stricter one:
NUL bytes and integer overflow fail there first). Examples per operation are bounded.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from forewarn.api.app import create_app
from forewarn.probes import discover
from forewarn.services import assets, auth, sites, users
from forewarn.services.context import Context
from forewarn.services.schemas import AssetCreate, InvitationCreate, SiteCreate
from forewarn.services.scope import SYSTEM
from tests.conftest import PASSWORD, Person, make_org, make_person

MAX_EXAMPLES = 15
# Positive-data acceptance is left out on purpose: schema-valid input may still be refused for
# business reasons (an opaque cursor we never issued, a name already taken, a bad CSV row).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class Session:
    """The owner's bearer token, renewed if a generated request revoked it."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.token = self.renew()

    def renew(self) -> str:
        return auth.login(self.ctx, "owner", PASSWORD)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def seeded(ctx: Context, owner: Person) -> Session:
    """A little of everything, so generated ids often hit real rows."""
    org = make_org(ctx, "Fuzz Org")
    site = sites.create(ctx, SYSTEM, SiteCreate(org_id=org, name="HQ")).id
    assets.create(ctx, SYSTEM, AssetCreate(org_id=org, name="fs01", kind="server", site_id=site))
    make_person(ctx, "member", roles={org: "technician"})
    users.invite(ctx, SYSTEM, InvitationCreate(org_id=org))
    return Session(ctx)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Generated input may name any network or host: nothing may leave this machine, so the
    discovery sweep and SNMP lookups are replaced by recorders that find nothing."""
    called: list[str] = []

    async def sweep(net: object, *args: object, **kwargs: object) -> object:
        called.append(str(net))
        raise discover.SweepError("network access is disabled in this test")

    async def snmp_identify(address: str, *args: object, **kwargs: object) -> None:
        called.append(address)

    monkeypatch.setattr(discover, "sweep", sweep)
    monkeypatch.setattr(discover, "snmp_identify", snmp_identify)
    return called


def test_no_server_errors(ctx: Context, seeded: Session, no_network: list[str]) -> None:
    """Every documented operation, fed generated (mostly invalid) input, answers below 500."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(ctx))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30  # the walk must cover the API, not an empty document

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call(headers=seeded.headers)
            case.validate_response(response, checks=CHECKS)
            if response.status_code == 401:
                seeded.token = seeded.renew()

        call()
