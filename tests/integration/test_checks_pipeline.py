"""Checks from definition to state: validation, the poller's leases, the state machine on
real results, the timeline, heartbeats and agent checks — on both database engines."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from forewarn.domain.clock import SystemClock
from forewarn.domain.observation import Result, Status
from forewarn.services import assets, checks
from forewarn.services import poller as poller_module
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.poller import LEASE_S, Poller, claim
from forewarn.services.schemas import AssetCreate, CheckCreate, CheckUpdate
from forewarn.services.scope import SYSTEM
from forewarn.store.models import (
    Asset,
    Check,
    CheckEvent,
    CheckResult,
    CheckStateRow,
    MetricSeries,
)
from tests.conftest import make_org


class CountingServer:
    """A TCP server on loopback that accepts, counts and closes connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self._stop = False
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.count += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._t.join(2)
        self.sock.close()


class SlowHttpServer:
    """An HTTP server on loopback that counts GETs and answers each after `delay` seconds, on
    a thread per request: a poller cannot race through many checks before another starts."""

    def __init__(self, delay: float) -> None:
        outer = self
        self.count = 0
        self._lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with outer._lock:
                    outer.count += 1
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._t.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[CountingServer]:
    s = CountingServer()
    yield s
    s.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def asset_id(ctx: Context) -> int:
    org = make_org(ctx, "Acme")
    return assets.create(
        ctx, SYSTEM, AssetCreate(org_id=org, name="router", kind="network_device")
    ).id


def new_check(ctx: Context, asset_id: int, name: str, **kw: object) -> int:
    data = {"asset_id": asset_id, "name": name, "type": "tcp", **kw}
    return checks.create(ctx, SYSTEM, CheckCreate.model_validate(data)).id


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"type": "nosuch"}, "unknown check type"),
        ({"type": "tcp", "target": "no-port-here"}, "tcp check"),
        ({"type": "tcp", "target": "127.0.0.1:80", "params": {"bogus": 1}}, "bogus"),
        ({"type": "heartbeat", "target": "x"}, "no target"),
        ({"type": "agent", "params": {"kind": "metric", "metric": "cpu.percent"}}, "threshold"),
    ],
)
def test_bad_definitions_are_refused_and_nothing_is_stored(ctx, asset_id, kw, says):
    with pytest.raises(ServiceError) as err:
        new_check(ctx, asset_id, "bad", **kw)
    assert err.value.status == 422
    assert says in str(err.value)
    assert checks.list_(ctx, SYSTEM, asset_id=asset_id).items == []


def test_schema_refuses_negative_interval(ctx, asset_id):
    with pytest.raises(ValueError, match="interval_s"):
        CheckCreate.model_validate(
            {"asset_id": asset_id, "name": "x", "type": "tcp", "interval_s": -5}
        )


def test_a_failing_target_goes_soft_then_hard_and_recovers(ctx, clock, asset_id, server):
    port = free_port()  # nothing listens here
    cid = new_check(
        ctx,
        asset_id,
        "mail",
        target=f"127.0.0.1:{port}",
        interval_s=10,
        retry_interval_s=2,
        max_attempts=3,
        timeout_s=2,
    )
    poller = Poller(ctx, owner="p1")

    async def steps() -> list[str]:
        seen = []
        for _ in range(3):
            assert await poller.tick() == 1
            out = checks.get(ctx, SYSTEM, cid).state
            seen.append(f"{out.display}/{'hard' if out.is_hard else 'soft'}/{out.attempt}")
            clock.advance(2)
        assert await poller.tick() == 0  # not due: back at the 10 s interval
        checks.update(ctx, SYSTEM, cid, CheckUpdate(target=f"127.0.0.1:{server.port}"))
        assert await poller.tick() == 1  # a changed target runs at once
        seen.append(checks.get(ctx, SYSTEM, cid).state.display)
        return seen

    seen = asyncio.run(steps())
    assert seen == ["critical/soft/1", "critical/soft/2", "critical/hard/3", "ok"]
    state = checks.get(ctx, SYSTEM, cid).state
    assert "refused" in checks.events(ctx, SYSTEM, cid).items[-1].message or state.message
    kinds = [(e.kind, e.old, e.new, e.quiet) for e in checks.events(ctx, SYSTEM, cid).items]
    assert kinds == [
        ("hard", 2, 0, ""),  # recovery, notified
        ("hard", 0, 2, ""),  # the hard problem, notified
        ("soft", 0, 2, "soft"),  # first failure, quiet
    ]
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).where(CheckResult.check_id == cid)) == 4
        names = set(s.scalars(select(MetricSeries.name).where(MetricSeries.asset_id == asset_id)))
    assert "check.time" in names


def test_parent_down_makes_children_unreachable(ctx, clock, asset_id):
    dead = f"127.0.0.1:{free_port()}"
    parent = new_check(ctx, asset_id, "router", target=dead, max_attempts=1, timeout_s=1)
    child = new_check(
        ctx, asset_id, "web", target=dead, max_attempts=1, timeout_s=1, parent_id=parent
    )
    poller = Poller(ctx, owner="p1")

    async def go() -> None:
        await poller.tick()  # both fail; the parent was not yet hard when judged together
        clock.advance(60)
        await poller.tick()

    asyncio.run(go())
    assert checks.get(ctx, SYSTEM, parent).state.display == "critical"
    assert checks.get(ctx, SYSTEM, child).state.display == "unreachable"
    with pytest.raises(ServiceError, match="itself"):
        checks.update(ctx, SYSTEM, parent, CheckUpdate(parent_id=child))


def test_a_dead_pollers_leases_run_out_and_another_takes_over(ctx, clock, asset_id, server):
    for i in range(5):
        new_check(ctx, asset_id, f"c{i}", target=f"127.0.0.1:{server.port}")
    taken = claim(ctx, "dead-poller", clock.now(), 100)
    assert len(taken) == 5
    assert claim(ctx, "other", clock.now(), 100) == []  # leased, not due for others
    clock.advance(LEASE_S + 1)
    assert asyncio.run(Poller(ctx, owner="other").tick()) == 5
    assert server.count == 5


def test_the_per_host_limit_bounds_each_host_and_every_check_runs(
    ctx, clock, asset_id, monkeypatch
):
    """At most `per_host` checks of one host at once, while other hosts use the free slots."""
    for i in range(12):
        new_check(ctx, asset_id, f"a{i}", target=f"10.0.0.1:{1000 + i}")
    for i in range(4):
        new_check(ctx, asset_id, f"b{i}", target=f"10.0.0.2:{1000 + i}")
    now: dict[str, int] = {}
    most: dict[str, int] = {}

    async def probe(check_type, target, params, timeout, res):  # no network: count overlap
        host = target.split(":")[0]
        now[host] = now.get(host, 0) + 1
        most[host] = max(most.get(host, 0), now[host])
        await asyncio.sleep(0.01)
        now[host] -= 1
        return Result(Status.OK, "ok"), 10.0

    monkeypatch.setattr(poller_module, "run_probe", probe)
    poller = Poller(ctx, owner="p1", concurrency=8, per_host=3)
    assert asyncio.run(poller.tick()) == 16
    assert most == {"10.0.0.1": 3, "10.0.0.2": 3}
    assert poller._per_host == {} and poller._in_line == 0  # every slot given back
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(CheckResult)) == 16


def test_a_definition_is_validated_once_per_version(ctx, clock, asset_id, server, monkeypatch):
    """The poller keeps each check's validated params and host until the definition changes;
    a changed target is validated again and counted on its new host, a definition that no
    longer validates gives UNKNOWN saying why."""
    from forewarn.probes import registry

    validated: list[str] = []
    real = registry.validate

    def counting(check_type, target, params, **kw):  # type: ignore[no-untyped-def]
        validated.append(target)
        return real(check_type, target, params, **kw)

    monkeypatch.setattr(registry, "validate", counting)
    cid = new_check(ctx, asset_id, "c", target=f"127.0.0.1:{server.port}", interval_s=60)
    validated.clear()  # the service validated it when creating it
    poller = Poller(ctx, owner="p")
    assert asyncio.run(poller.tick()) == 1
    clock.advance(61)
    assert asyncio.run(poller.tick()) == 1
    assert validated == [f"127.0.0.1:{server.port}"]  # the second run used the kept params
    assert poller.params_cache[cid].host == "127.0.0.1"

    clock.advance(1)
    checks.update(ctx, SYSTEM, cid, CheckUpdate(target=f"localhost:{server.port}"))
    validated.clear()
    clock.advance(61)
    assert asyncio.run(poller.tick()) == 1
    assert validated == [f"localhost:{server.port}"]
    assert poller.params_cache[cid].host == "localhost"
    assert server.count == 3

    # Stored params that no longer validate (written behind the service's back).
    clock.advance(1)
    with ctx.db.transaction() as s:
        s.execute(
            update(Check).where(Check.id == cid).values(params={"bogus": 1}, updated_at=clock.now())
        )
    clock.advance(61)
    assert asyncio.run(poller.tick()) == 1
    with ctx.db.read() as s:
        row = s.get(CheckStateRow, cid)
        assert row is not None
        assert row.status == Status.UNKNOWN and "bad check definition" in row.message
    assert server.count == 3  # nothing probed


def test_a_claim_hands_over_an_unchanged_definition_by_its_id(ctx, clock, asset_id):
    """The recorder child's claims: a definition it handed over before comes as its id alone,
    a changed one in full again; a claim that fails hands nothing over."""
    a = new_check(ctx, asset_id, "a", target="127.0.0.1:9", interval_s=60)
    b = new_check(ctx, asset_id, "b", target="127.0.0.1:9", interval_s=60)
    sent: dict[int, object] = {}

    def claim_now() -> list[object]:
        rows = poller_module.claim_rows(ctx, "p", clock.now(), 10, sent)
        with ctx.db.transaction() as s:  # released and due again, as after a run
            s.execute(update(CheckStateRow).values(lease_owner=None, lease_until=None))
        return sorted(rows, key=lambda r: r if isinstance(r, int) else r[0])

    first = claim_now()
    assert [r[0] for r in first] == [a, b]  # type: ignore[index]
    assert first[0][1:3] == ("tcp", "127.0.0.1:9")  # type: ignore[index]
    assert claim_now() == [a, b]
    clock.advance(1)
    checks.update(ctx, SYSTEM, b, CheckUpdate(target="127.0.0.1:10"))
    again = claim_now()
    assert again[0] == a and again[1][2] == "127.0.0.1:10"  # type: ignore[index]
    assert claim_now() == [a, b]


def test_a_fresh_recorder_cache_preloads_the_check_series(ctx, clock, asset_id, server):
    """What a recorder child reads before it says it is ready: every check series, and no
    other (an agent metric is left to the ingest that writes it)."""
    from forewarn.services.ingest import SeriesCache

    cid = new_check(ctx, asset_id, "c", target=f"127.0.0.1:{server.port}")
    assert asyncio.run(Poller(ctx, owner="p").tick()) == 1
    with ctx.db.transaction() as s:
        s.add(
            MetricSeries(
                org_id=_org_of(ctx, asset_id),
                asset_id=asset_id,
                name="cpu.percent",
                labels_key="",
                labels={},
            )
        )
        s.add(
            MetricSeries(
                org_id=_org_of(ctx, asset_id),
                asset_id=asset_id,
                name="checkXtime",
                labels_key="",
                labels={},
            )
        )  # "_" or "." must not be a wildcard
    cache = SeriesCache()
    with ctx.db.read() as s:
        assert cache.preload(s, "check.") == 1
        stored = s.scalar(select(MetricSeries.id).where(MetricSeries.name == "check.time"))
    assert cache.get((asset_id, "check.time", f"check={cid}")) == stored
    assert cache.get((asset_id, "cpu.percent", "")) is None


def _org_of(ctx: Context, asset_id: int) -> int:
    with ctx.db.read() as s:
        return int(s.scalar(select(Asset.org_id).where(Asset.id == asset_id)))


@pytest.mark.slow
def test_the_recorder_expands_ids_and_restarts_a_child_that_knows_more(settings, asset_id):
    """Recorder.claim gives full rows whatever the child sent; an id it never saw in full
    (never expected) is dropped and the child replaced, whose claims come in full again."""
    from forewarn.services.recorder import Recorder

    base = Context.from_settings(settings, SystemClock())
    ids = [new_check(base, asset_id, f"c{i}", target="127.0.0.1:9") for i in range(3)]
    rec = Recorder(settings, "p")

    def free() -> None:
        with base.db.transaction() as s:
            s.execute(update(CheckStateRow).values(lease_owner=None, lease_until=None))

    async def go() -> None:
        try:
            assert rec.wait_ready(30)
            rows = await rec.claim(base.clock.now().timestamp(), 10)
            assert sorted(r[0] for r in rows) == ids
            free()
            again = await rec.claim(base.clock.now().timestamp(), 10)
            assert sorted(again) == sorted(rows)  # sent as ids, given back in full
            first = rec._proc
            assert rec._keep([10**9]) == []  # an id never seen in full
            first.join(10)
            assert not first.is_alive()
            free()
            rows = await rec.claim(base.clock.now().timestamp(), 10)  # a new child, full rows
            assert rec._proc is not first
            assert sorted(r[0] for r in rows) == ids
        finally:
            await rec.finish()

    try:
        asyncio.run(go())
    finally:
        base.db.dispose()


@pytest.mark.slow
def test_a_claim_given_up_on_is_read_before_the_next_answer(settings, asset_id, monkeypatch):
    """A claim that waits too long (the database locked) fails; the child's late answer,
    still in the socket, is read and kept before the next claim's own answer, whose known
    definitions come as ids because the late claim handed them over."""
    from sqlalchemy import text

    from forewarn.services import recorder as recorder_module
    from forewarn.services.recorder import Recorder

    monkeypatch.setattr(recorder_module, "CLAIM_WAIT_S", 0.5)  # the poller's side only
    base = Context.from_settings(settings, SystemClock())
    ids = [new_check(base, asset_id, f"c{i}", target="127.0.0.1:9") for i in range(3)]
    rec = Recorder(settings, "p")
    postgres = settings.database_url is not None and settings.database_url.startswith("postgres")
    hold = (
        "LOCK TABLE check_states IN EXCLUSIVE MODE"
        if postgres
        else "UPDATE check_states SET attempt = attempt WHERE 0 = 1"  # takes the write lock
    )

    def leased() -> int:
        with base.db.read() as s:
            stmt = select(func.count()).where(CheckStateRow.lease_owner == "p")
            return int(s.scalar(stmt.select_from(CheckStateRow)) or 0)

    async def go() -> list[tuple[object, ...]]:
        try:
            assert rec.wait_ready(30)
            with base.db.transaction() as s:
                s.execute(text(hold))
                with pytest.raises(TimeoutError):
                    await rec.claim(base.clock.now().timestamp(), 10)
                await asyncio.sleep(0.5)  # the child is waiting for the lock
            for _ in range(100):  # bounded: 10 s for the late claim to commit
                if leased() == 3:
                    break
                await asyncio.sleep(0.1)
            assert leased() == 3
            with base.db.transaction() as s:
                s.execute(update(CheckStateRow).values(lease_owner=None, lease_until=None))
            ids.append(new_check(base, asset_id, "c3", target="127.0.0.1:9"))  # not in it
            return await rec.claim(base.clock.now().timestamp(), 10)
        finally:
            await rec.finish()

    try:
        rows = asyncio.run(go())
    finally:
        base.db.dispose()
    # Its own answer (four checks, not the late answer's three), the three as ids expanded
    # from the late answer's rows.
    assert sorted(r[0] for r in rows) == ids
    assert all(len(r) == 7 for r in rows)


def test_a_definition_that_cannot_be_opened_fails_alone(ctx, clock, asset_id, server, monkeypatch):
    """An error preparing one check (here its secrets do not open) gives that check UNKNOWN;
    the other checks of the same claim still run."""
    from forewarn.services import secret_params

    bad = new_check(ctx, asset_id, "bad", target=f"127.0.0.1:{server.port}")
    good = [new_check(ctx, asset_id, f"g{i}", target=f"127.0.0.1:{server.port}") for i in range(3)]
    real = secret_params.open_params

    def opening(c, params):  # type: ignore[no-untyped-def]
        if opening.calls == 0:  # the first definition prepared: the bad check's (lowest id)
            opening.calls += 1
            raise RuntimeError("the secret key changed")
        opening.calls += 1
        return real(c, params)

    opening.calls = 0  # type: ignore[attr-defined]
    monkeypatch.setattr(secret_params, "open_params", opening)
    assert asyncio.run(Poller(ctx, owner="p").tick()) == 4
    assert server.count == 3
    with ctx.db.read() as s:
        row = s.get(CheckStateRow, bad)
        assert row is not None and row.status == Status.UNKNOWN
        assert "the secret key changed" in row.message
        assert all(s.get(CheckStateRow, g).status == Status.OK for g in good)


def test_heartbeat_turns_critical_when_late_and_ok_on_ping(ctx, clock, asset_id):
    cid = new_check(
        ctx, asset_id, "backup", type="heartbeat", params={"period_s": 3600, "grace_s": 600}
    )
    poller = Poller(ctx, owner="p1")
    out = checks.get(ctx, SYSTEM, cid)
    assert out.push_path and out.push_path.startswith("/hb/")
    clock.advance(3599)
    assert asyncio.run(poller.tick()) == 0
    clock.advance(602)
    assert asyncio.run(poller.tick()) == 1
    state = checks.get(ctx, SYSTEM, cid).state
    assert (state.display, state.is_hard) == ("critical", True)
    assert "no ping received" in state.message


PG_ONLY = "the claim race between processes is only real on PostgreSQL"


@pytest.mark.slow
@pytest.mark.parametrize("in_child", [False, True], ids=["in-process", "recorder-child"])
def test_two_pollers_share_one_database_without_running_a_check_twice(
    database_url, settings, asset_id, in_child
):
    """Also with the recorder children claiming (`poller_record_in_child`, the default).
    Each GET takes 50 ms, so one poller (at most 2 x concurrency claimed at a time) needs
    about 0.75 s for all 300: the other has started claiming long before; with instant
    checks a fast poller could finish them all first and the sharing would prove nothing."""
    n = 300
    server = SlowHttpServer(delay=0.05)
    base = Context.from_settings(settings, SystemClock())
    url = f"http://127.0.0.1:{server.port}/"
    for i in range(n):
        new_check(base, asset_id, f"svc{i}", type="http", target=url, interval_s=3600)

    def poller(owner: str) -> Poller:
        ctx = Context.from_settings(settings, SystemClock())
        return Poller(ctx, owner=owner, batch=10, concurrency=20, record_in_child=in_child)

    async def both() -> tuple[int, int]:
        a, b = poller("A"), poller("B")
        for p in (a, b):  # both children started, so both claim from the first moment
            assert p.recorder is None or p.recorder.wait_ready(30)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(p.run(stop)) for p in (a, b)]
        for _ in range(100):  # bounded: at most 10 s
            await asyncio.sleep(0.1)
            if a.ran + b.ran >= n:
                break
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)
        return a.ran, b.ran

    try:
        ran_a, ran_b = asyncio.run(both())
    finally:
        server.close()
    assert ran_a + ran_b == n
    # Each poller holds at most 2 x concurrency claimed checks (40 of 300): both must share.
    assert ran_a > 0 and ran_b > 0, "both pollers should have taken a share"
    assert server.count == n
    with base.db.read() as s:
        per_check = s.execute(
            select(CheckResult.check_id, func.count()).group_by(CheckResult.check_id)
        ).all()
        assert len(per_check) == n and all(c == 1 for _, c in per_check)
        assert s.scalar(select(func.count()).select_from(CheckEvent)) == n
    with contextlib.suppress(Exception):
        base.db.dispose()


def test_deleting_a_check_removes_its_results(ctx, clock, asset_id, server):
    cid = new_check(ctx, asset_id, "x", target=f"127.0.0.1:{server.port}")
    asyncio.run(Poller(ctx, owner="p").tick())
    checks.delete(ctx, SYSTEM, cid)
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(CheckResult)) == 0
    with pytest.raises(ServiceError):
        checks.get(ctx, SYSTEM, cid)
    _ = timedelta


def test_maintenance_keeps_checking_but_notifies_nothing(ctx, clock, asset_id):
    org_id = checks.get(ctx, SYSTEM, new_check(ctx, asset_id, "probe", target="127.0.0.1:1")).org_id
    # 09:00 UTC on 2026-11-02 is 10:00 in Berlin: the window runs 09:30-11:30 local time.
    from forewarn.services import maintenance, orgs
    from forewarn.services.schemas import MaintenanceCreate, OrgUpdate

    orgs.update(ctx, SYSTEM, org_id, OrgUpdate(timezone="Europe/Berlin"))
    win = maintenance.create(
        ctx,
        SYSTEM,
        MaintenanceCreate(
            org_id=org_id, name="patching", start_local="2026-11-02T09:30", duration_min=120
        ),
    )
    assert win.active_now
    cid = new_check(
        ctx, asset_id, "dead", target=f"127.0.0.1:{free_port()}", max_attempts=1, timeout_s=1
    )
    asyncio.run(Poller(ctx, owner="p").tick())
    assert checks.get(ctx, SYSTEM, cid).state.display == "critical"
    [event] = checks.events(ctx, SYSTEM, cid).items
    assert (event.kind, event.quiet) == ("hard", "maintenance")
    clock.advance(hours=2)  # the window is over: the recovery or the next change notifies
    assert not maintenance.list_(ctx, SYSTEM, org_id)[0].active_now
    with pytest.raises(ServiceError):
        maintenance.create(
            ctx,
            SYSTEM,
            MaintenanceCreate(
                org_id=org_id,
                name="x",
                start_local="2026-11-02T09:30",
                duration_min=60,
                repeat="weekly",
                until="2025-01-01",
            ),
        )


@pytest.mark.slow
def test_recording_in_a_child_process_stores_every_result(settings, asset_id, server):
    """The recorder child (the second core) stores what the poller ran, runs at the niceness
    it was given (below the probes), and stops cleanly."""
    settings = settings.model_copy(update={"poller_recorder_nice": 7})
    base = Context.from_settings(settings, SystemClock())
    for i in range(50):
        new_check(base, asset_id, f"c{i}", target=f"127.0.0.1:{server.port}", interval_s=3600)

    async def go() -> tuple[int, int]:
        p = Poller(
            Context.from_settings(settings, SystemClock()), owner="rec", record_in_child=True
        )
        assert p.recorder is not None
        stop = asyncio.Event()
        task = asyncio.create_task(p.run(stop))
        for _ in range(100):  # bounded: 10 s
            await asyncio.sleep(0.1)
            if p.ran >= 50:
                break
        # Field 19 of /proc/PID/stat: the niceness, relative to ours.
        stat = Path(f"/proc/{p.recorder._proc.pid}/stat").read_text().rsplit(")", 1)[1]
        nice = int(stat.split()[16]) - os.nice(0)
        stop.set()
        await task  # closes the recorder after it stored what it was sent
        return p.ran, nice

    ran, nice = asyncio.run(go())
    assert ran == 50
    assert nice == 7
    with base.db.read() as s:
        assert s.scalar(select(func.count()).select_from(CheckResult)) == 50
        states = checks.list_(base, SYSTEM, asset_id=asset_id, limit=100).items
    assert {c.state.display for c in states} == {"ok"}
    base.db.dispose()


@pytest.mark.slow
def test_results_still_queued_for_the_child_at_the_stop_are_all_stored(
    settings, asset_id, server, monkeypatch
):
    """A poller that stops while groups of results still wait for the child (here all of
    them: nothing is sent before the stop, as when the child fell behind) ends only once the
    child stored every one, although its claims socket closes at the same moment."""

    async def hold(self: Poller, stop: asyncio.Event) -> None:
        await stop.wait()  # the flusher sends nothing; `run` sends it all as it stops

    monkeypatch.setattr(Poller, "_flusher", hold)
    base = Context.from_settings(settings, SystemClock())
    n = 60
    for i in range(n):
        new_check(base, asset_id, f"c{i}", target=f"127.0.0.1:{server.port}", interval_s=3600)

    async def go() -> int:
        ctx = Context.from_settings(settings, SystemClock())
        p = Poller(ctx, owner="held", record_in_child=True, batch=5)  # 12 groups at the stop
        stop = asyncio.Event()
        task = asyncio.create_task(p.run(stop))
        for _ in range(1000):  # bounded: 10 s
            await asyncio.sleep(0.01)
            if p.ran >= n:
                break
        stop.set()
        await task
        return p.ran

    assert asyncio.run(go()) == n
    with base.db.read() as s:
        assert s.scalar(select(func.count()).select_from(CheckResult)) == n
        stmt = select(func.count()).where(CheckStateRow.last_at.is_not(None))
        assert s.scalar(stmt.select_from(CheckStateRow)) == n
    base.db.dispose()


@pytest.mark.slow
def test_a_dead_recorder_child_is_replaced_and_its_checks_run_again(settings, asset_id, server):
    """The child claims and records; killed, the next claim starts another and runs go on."""
    base = Context.from_settings(settings, SystemClock())
    for i in range(20):
        new_check(base, asset_id, f"c{i}", target=f"127.0.0.1:{server.port}", interval_s=3600)

    def ran_since(at: object) -> int:
        with base.db.read() as s:
            stmt = select(func.count()).where(CheckStateRow.last_at >= at)
            return int(s.scalar(stmt.select_from(CheckStateRow)) or 0)

    async def go() -> tuple[int, bool]:
        p = Poller(
            Context.from_settings(settings, SystemClock()),
            owner="rec",
            record_in_child=True,
            idle_s=0.1,
        )
        assert p.recorder is not None
        stop = asyncio.Event()
        task = asyncio.create_task(p.run(stop))
        start = base.clock.now()
        for _ in range(100):  # bounded: 10 s
            await asyncio.sleep(0.1)
            if ran_since(start) >= 20:
                break
        first = p.recorder._proc
        first.kill()
        first.join(5)
        killed = base.clock.now()
        with base.db.transaction() as s:  # every check due again, for the new child to claim
            s.execute(update(CheckStateRow).values(next_due_at=killed))
        for _ in range(200):  # bounded: 20 s (a new child starts in about a second)
            await asyncio.sleep(0.1)
            if ran_since(killed) >= 20:
                break
        stop.set()
        await task
        return ran_since(killed), p.recorder._proc is not first

    again, replaced = asyncio.run(go())
    assert replaced
    assert again == 20
    assert server.count == 40  # each check ran once per due time, none twice
    base.db.dispose()
