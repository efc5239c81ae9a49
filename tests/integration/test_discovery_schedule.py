"""The scheduled sweep: each network once a day, the longest-waiting first, one per turn."""

from __future__ import annotations

from forewarn.services import discovery
from forewarn.services.scope import SYSTEM
from tests.conftest import make_org


def test_sweep_due_picks_the_oldest_network_and_waits_a_day(ctx, clock, monkeypatch):
    org = make_org(ctx, "Acme")
    nets = [
        discovery.create_network(
            ctx, SYSTEM, discovery.NetworkCreate(org_id=org, cidr=f"10.77.{i}.0/24")
        ).id
        for i in range(2)
    ]
    swept: list[int] = []

    def fake_run(ctx_, actor, network_id, **kw):  # no traffic: record which would run
        started = discovery.start(ctx_, actor, network_id)
        swept.append(network_id)
        return discovery.fail(ctx_, started.run_id, "not swept in this test")

    monkeypatch.setattr(discovery, "run", fake_run)
    discovery.sweep_due(ctx)
    clock.advance(60)
    discovery.sweep_due(ctx)
    assert swept == nets  # never-swept networks first, one per turn
    clock.advance(3600)
    assert discovery.sweep_due(ctx) is None and swept == nets  # both swept within a day
    clock.advance(hours=24)
    discovery.sweep_due(ctx)
    assert swept == [*nets, nets[0]]


def test_nothing_to_sweep(ctx):
    assert discovery.sweep_due(ctx) is None
