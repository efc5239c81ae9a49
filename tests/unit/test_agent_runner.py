"""The agent's loop against a real HTTP server on 127.0.0.1, driven by a clock the test moves.

The server is http.server in a thread; each request's answer comes from a plan the test sets
(200 BatchAnswer, 503, a dropped connection, 422, 401). The runner, buffer and client are the
real ones; only the collectors are small stand-ins, and sleeping advances the clock instead of
waiting, so hours of agent time take milliseconds. Every loop runs a bounded number of ticks.
"""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
import random
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from forewarn.agent.buffer import Buffer
from forewarn.agent.client import Client, Retry
from forewarn.agent.runner import Outcome, Runner, Schedule, Sources
from forewarn.agent.watch import Watcher
from forewarn.domain.clock import ManualClock
from forewarn.wire import Batch

pytestmark = pytest.mark.timeout(60)

TOKEN = "agent-token-for-tests"


# ---- a server the test controls -------------------------------------------------------------


@dataclass
class Request:
    at: float
    batch: dict[str, Any]
    answer: str


@dataclass
class FakeServer:
    """Answers check-ins by plan: each request takes the next answer, then `default`."""

    clock: ManualClock
    default: str = "ok"
    plan: list[str] = field(default_factory=list)
    interval: int = 60
    config: dict[str, Any] | None = None  # the watch configuration answered, if any
    requests: list[Request] = field(default_factory=list)
    stored: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_answer(self) -> str:
        with self.lock:
            return self.plan.pop(0) if self.plan else self.default

    def record(self, batch: dict[str, Any], answer: str) -> str:
        """Store a batch once, as the real server does; 'stored' or 'duplicate'."""
        with self.lock:
            self.requests.append(Request(self.clock.now().timestamp(), batch, answer))
            if answer != "ok":
                return answer
            if any(b["batch_id"] == batch["batch_id"] for b in self.stored):
                return "duplicate"
            self.stored.append(batch)
            return "stored"

    @property
    def stored_seqs(self) -> list[int]:
        return [b["seq"] for b in self.stored]


def _handler(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as behind a real proxy

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.path == "/api/v1/agent/checkin"
            assert self.headers["Authorization"] == f"Bearer {TOKEN}"
            assert self.headers["Content-Encoding"] == "gzip"
            assert self.headers["User-Agent"].startswith("forewarn-agent/")
            batch = json.loads(gzip.decompress(body))
            answer = server.next_answer()
            status = server.record(batch, answer)
            if answer == "close":
                self.close_connection = True  # no answer at all: the connection drops
            elif answer == "ok":
                answer_body = {"batch_id": batch["batch_id"], "status": status}
                answer_body |= {"interval": server.interval, "server_time": time.time()}
                answer_body["config"] = server.config
                self.reply(200, answer_body)
            else:
                code = int(answer)
                self.reply(code, {"title": "refused", "status": code, "detail": f"said {code}"})

        def reply(self, code: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def server(clock: ManualClock) -> Iterator[FakeServer]:
    fake = FakeServer(clock)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"  # type: ignore[attr-defined]
    yield fake
    httpd.shutdown()
    httpd.server_close()


# ---- stand-in collectors --------------------------------------------------------------------


class Machine:
    """A pretend machine whose packages the test can change."""

    def __init__(self) -> None:
        self.packages = [{"name": "bash", "version": "5.2", "source": "dpkg"}]
        self.inventories = 0

    def sample(self, now: float) -> dict[str, Any]:
        return {"ts": now, "points": [{"name": "cpu.percent", "labels": {}, "value": 3.5}]}

    def inventory(self) -> dict[str, Any]:
        self.inventories += 1
        return {"system": {"hostname": "pc-01"}, "packages": list(self.packages)}

    @staticmethod
    def section_hashes(inventory: dict[str, Any]) -> dict[str, str]:
        return {
            k: hashlib.sha256(json.dumps(v, sort_keys=True).encode()).hexdigest()
            for k, v in inventory.items()
        }

    def changed_sections(self, inventory: dict[str, Any], last: dict[str, str]) -> dict[str, Any]:
        now = self.section_hashes(inventory)
        return {k: v for k, v in inventory.items() if last.get(k) != now[k]}

    def sources(self) -> Sources:
        return Sources(self.sample, self.inventory, self.changed_sections, self.section_hashes)


@dataclass
class Harness:
    runner: Runner
    buffer: Buffer
    sleeps: list[float]
    machine: Machine


@pytest.fixture
def make_runner(tmp_path: Path, clock: ManualClock, server: FakeServer) -> Iterator[Any]:
    opened: list[Buffer] = []

    def make(
        schedule: Schedule | None = None, url: str | None = None, watcher: Watcher | None = None
    ) -> Harness:
        buffer = Buffer(tmp_path / "buffer.db", clock=lambda: clock.now().timestamp())
        opened.append(buffer)
        sleeps: list[float] = []

        def sleep(seconds: float) -> None:
            sleeps.append(seconds)
            clock.advance(seconds)

        machine = Machine()
        runner = Runner(
            buffer,
            Client(url or server.url, agent_token=TOKEN, timeout=5),  # type: ignore[attr-defined]
            machine.sources(),
            schedule=schedule or Schedule(),
            clock=clock,
            sleep=sleep,
            rng=random.Random(7),
            watcher=watcher,
        )
        return Harness(runner, buffer, sleeps, machine)

    yield make
    for b in opened:
        b.close()


# ---- the tests ------------------------------------------------------------------------------


def test_a_healthy_loop_sends_each_batch_once_in_order(
    make_runner: Any, server: FakeServer
) -> None:
    h = make_runner()

    assert h.runner.run(max_ticks=5) is Outcome.FINISHED

    assert server.stored_seqs == [0, 1, 2, 3, 4]
    assert len(server.requests) == 5
    assert h.buffer.oldest() is None
    # The first batch carries the full inventory; later ones, within 15 minutes, none.
    assert server.stored[0]["inventory"]["full"] is True
    assert server.stored[0]["inventory"]["packages"][0]["name"] == "bash"
    assert all(b["inventory"] is None for b in server.stored[1:])
    # One tick per interval, jittered by at most 10 %.
    ticks = [b["sent_at"] for b in server.stored]
    assert all(54 <= b - a <= 66 for a, b in itertools.pairwise(ticks))


@pytest.mark.parametrize("failure", ["503", "close"])
def test_after_an_outage_everything_arrives_in_order(
    make_runner: Any, server: FakeServer, failure: str
) -> None:
    h = make_runner()
    server.default = failure

    h.runner.run(max_ticks=20)  # twenty minutes of outage
    assert server.stored == []
    assert h.buffer.stats().depth == 20  # collection went on during the outage

    server.default = "ok"
    h.runner.run(max_ticks=1)

    assert server.stored_seqs == list(range(21))
    assert h.buffer.oldest() is None
    assert h.runner.failures == 0


def test_after_connections_were_refused_everything_arrives(
    make_runner: Any, server: FakeServer
) -> None:
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    h = make_runner(url=dead)
    h.runner.run(max_ticks=3)
    assert "refused the connection" in (h.buffer.get_meta("last_error") or "")

    h.runner.sender = Client(server.url, agent_token=TOKEN)  # type: ignore[attr-defined]
    h.runner.run(max_ticks=1)

    assert server.stored_seqs == [0, 1, 2, 3]


def test_backoff_grows_to_its_cap_while_collection_keeps_its_schedule(
    make_runner: Any, server: FakeServer
) -> None:
    server.default = "503"
    h = make_runner(Schedule(interval=3600, jitter=0))

    h.runner.run(max_ticks=3)  # two hours of a server answering 503

    attempts = [r.at for r in server.requests]
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    assert 2.5 <= gaps[0] <= 5
    growing = [g for g in gaps if g < 150]
    assert growing == sorted(growing)  # each wait at least as long as the one before
    assert max(gaps) <= 300
    assert sum(1 for g in gaps if g >= 150) >= 10  # then it holds at the cap (150 to 300 s)
    assert len(attempts) < 60  # not hammering: 2 h at a 5-minute cap is ~30 attempts
    assert h.buffer.stats().depth == 3
    assert h.buffer.get_meta("last_error") == "the server answered 503 refused: said 503"


def test_the_server_sets_the_interval(make_runner: Any, server: FakeServer) -> None:
    server.interval = 120
    h = make_runner()

    h.runner.run(max_ticks=4)

    assert h.runner.interval == 120
    ticks = [b["sent_at"] for b in server.stored]
    # The first wait was planned before the answer came; the later ones follow it.
    assert all(108 <= b - a <= 132 for a, b in itertools.pairwise(ticks[1:]))
    # Kept across a restart.
    assert make_runner().runner.interval == 120


def test_an_absurd_interval_from_the_server_is_clamped(
    make_runner: Any, server: FakeServer
) -> None:
    server.interval = 0
    h = make_runner()
    h.runner.run(max_ticks=2)
    assert h.runner.interval == 10


def test_a_refused_batch_is_quarantined_and_the_rest_go_on(
    make_runner: Any, server: FakeServer
) -> None:
    server.plan = ["422"]
    h = make_runner(Schedule(jitter=0))

    h.runner.run(max_ticks=20)

    assert [bid for bid, _ in h.buffer.quarantined()] == [server.requests[0].batch["batch_id"]]
    assert "422 refused: said 422" in h.buffer.quarantined()[0][1]
    assert server.stored_seqs == list(range(1, 20))
    # The refused batch carried the first inventory: at the next inventory slot, 15 minutes
    # on, all of it goes again.
    with_inventory = [(b["seq"], b["inventory"]["full"]) for b in server.stored if b["inventory"]]
    assert with_inventory == [(15, True)]


def test_a_refused_credential_stops_the_loop_and_keeps_the_batch(
    make_runner: Any, server: FakeServer
) -> None:
    server.default = "401"
    h = make_runner()

    assert h.runner.run(max_ticks=50) is Outcome.UNAUTHORIZED

    assert len(server.requests) == 1
    assert h.buffer.stats().depth == 1 and h.buffer.stats().quarantined == 0
    assert "credential" in (h.buffer.get_meta("last_error") or "")


def test_inventory_changes_are_sent_when_seen_and_all_of_it_daily(
    make_runner: Any, server: FakeServer, clock: ManualClock
) -> None:
    schedule = Schedule(interval=60, inventory_interval=300, full_inventory_interval=1800, jitter=0)
    h = make_runner(schedule)

    h.runner.run(max_ticks=10)  # seq 0-9 at 0..9 min: full at 0, a check at 5 finds nothing
    h.machine.packages.append({"name": "openssh-server", "version": "9.2", "source": "dpkg"})
    # A new run() collects at once: seq 10 at 9 min again, then seq n at n-1 minutes.
    h.runner.run(max_ticks=25)

    with_inventory = [(b["seq"], b["inventory"]) for b in server.stored if b["inventory"]]
    assert [(seq, inv["full"], sorted(inv)) for seq, inv in with_inventory] == [
        (0, True, ["full", "packages", "system"]),
        (11, False, ["full", "packages"]),  # at 10 min, only the changed section
        (31, True, ["full", "packages", "system"]),  # at 30 min, all of it again
    ]
    # Collected every 5 minutes, not every minute.
    assert h.machine.inventories == 7


def test_remembered_inventory_survives_a_restart(make_runner: Any, server: FakeServer) -> None:
    make_runner().runner.run(max_ticks=1)

    h = make_runner(Schedule(inventory_interval=0))  # due at once, but nothing changed
    h.runner.run(max_ticks=1)

    assert [b["inventory"] is not None for b in server.stored] == [True, False]


def test_run_once_reports_whether_it_delivered(make_runner: Any, server: FakeServer) -> None:
    server.default = "503"
    h = make_runner()
    assert h.runner.run_once() is Outcome.PENDING
    server.default = "ok"
    assert h.runner.run_once() is Outcome.SENT
    assert server.stored_seqs == [0, 1]


def test_stop_ends_the_loop_after_the_current_step(make_runner: Any, server: FakeServer) -> None:
    h = make_runner()
    original_sleep = h.runner._sleep

    def sleep_then_stop(seconds: float) -> None:
        original_sleep(seconds)
        if len(h.sleeps) == 3:
            h.runner.stop()

    h.runner._sleep = sleep_then_stop
    assert h.runner.run() is Outcome.STOPPED
    assert server.stored_seqs == [0, 1, 2]


def test_stop_wakes_a_real_sleep(tmp_path: Path, server: FakeServer) -> None:
    machine = Machine()
    with Buffer(tmp_path / "b.db") as buffer:
        runner = Runner(buffer, Client(server.url, agent_token=TOKEN), machine.sources())  # type: ignore[attr-defined]
        threading.Timer(0.3, runner.stop).start()
        started = time.monotonic()
        try:
            assert runner.run() is Outcome.STOPPED
        finally:
            runner.close()
    assert time.monotonic() - started < 5  # not the 60 s interval


def test_a_broken_collector_does_not_stop_the_agent(make_runner: Any, server: FakeServer) -> None:
    h = make_runner()

    def broken() -> dict[str, Any]:
        raise OSError("dpkg-query vanished")

    h.runner.sources = Sources(
        h.machine.sample, broken, h.machine.changed_sections, h.machine.section_hashes
    )
    h.runner.run(max_ticks=2)

    assert server.stored_seqs == [0, 1]
    assert all(b["inventory"] is None and b["samples"] for b in server.stored)


def test_non_finite_values_are_dropped_not_the_batch(make_runner: Any, server: FakeServer) -> None:
    h = make_runner()

    def sample(now: float) -> dict[str, Any]:
        return {
            "ts": now,
            "points": [
                {"name": "a", "labels": {}, "value": float("nan")},
                {"name": "b", "labels": {}, "value": 1.0},
            ],
        }

    h.runner.sources = Sources(
        sample, h.machine.inventory, h.machine.changed_sections, h.machine.section_hashes
    )
    h.runner.run(max_ticks=1)

    assert [p["name"] for p in server.stored[0]["samples"][0]["points"]] == ["b"]


def test_a_pinned_interval_ignores_the_server(make_runner: Any, server: FakeServer) -> None:
    server.interval = 300
    h = make_runner(Schedule(interval=2, jitter=0, server_sets_interval=False))

    h.runner.run(max_ticks=3)

    assert h.runner.interval == 2
    assert [b["sent_at"] - server.stored[0]["sent_at"] for b in server.stored] == [0, 2, 4]


# ---- TLS ------------------------------------------------------------------------------------


def openssl(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["openssl", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def tls(tmp_path: Path, server: FakeServer) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on 127.0.0.1 whose certificate a fresh test CA signed: (url, ca.pem)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Forewarn test CA", cwd=tmp_path)  # fmt: skip
    openssl("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1",
            cwd=tmp_path)  # fmt: skip
    (tmp_path / "ext").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext",
            cwd=tmp_path)  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "srv.pem", tmp_path / "srv.key")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", tmp_path / "ca.pem"
    httpd.shutdown()
    httpd.server_close()


def one_batch(tmp_path: Path) -> tuple[str, bytes]:
    with Buffer(tmp_path / "one.db") as buffer:
        buffer.append({"v": 1, "sent_at": 1_793_000_000.0, "samples": [], "inventory": None})
        item = buffer.oldest()
    assert item is not None
    return item


def test_https_with_a_private_ca_file(tls: tuple[str, Path], tmp_path: Path) -> None:
    url, ca = tls
    batch_id, body = one_batch(tmp_path)

    client = Client(url, agent_token=TOKEN, ca_file=str(ca))
    try:
        assert client.send(body)["batch_id"] == batch_id
    finally:
        client.close()


def test_https_with_an_untrusted_certificate_is_retried_not_sent(
    tls: tuple[str, Path], tmp_path: Path, server: FakeServer
) -> None:
    url, _ = tls
    client = Client(url, agent_token=TOKEN)  # the system's CAs do not know the test CA

    with pytest.raises(Retry, match="not trusted"):
        client.send(one_batch(tmp_path)[1])
    assert server.requests == []


def test_https_with_the_system_store_as_a_hashed_directory(
    tls: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, ca = tls
    store = tmp_path / "certs"
    store.mkdir()
    subject_hash = openssl("x509", "-subject_hash", "-noout", "-in", str(ca), cwd=tmp_path)
    shutil.copy(ca, store / f"{subject_hash}.0")
    monkeypatch.setenv("SSL_CERT_DIR", str(store))  # as /etc/ssl/certs is laid out
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    batch_id, body = one_batch(tmp_path)

    client = Client(url, agent_token=TOKEN)
    try:
        assert client.send(body)["batch_id"] == batch_id
    finally:
        client.close()


def test_a_batch_json_cannot_carry_is_skipped_and_the_loop_goes_on(
    make_runner: Any, server: FakeServer
) -> None:
    h = make_runner()
    calls = 0

    def sample(now: float) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        top = [{"pid": 1, "name": "x", "cpu_percent": float("nan"), "rss_bytes": 1}]
        return {**h.machine.sample(now), "top": top if calls == 2 else []}

    h.runner.sources = Sources(
        sample, h.machine.inventory, h.machine.changed_sections, h.machine.section_hashes
    )
    h.runner.run(max_ticks=3)

    assert server.stored_seqs == [0, 1]  # the second tick's batch was never buffered
    assert all(not b["samples"][0]["top"] for b in server.stored)


def test_backoff_stays_at_its_cap_after_days_of_failures(make_runner: Any) -> None:
    h = make_runner()
    h.runner.failures = 5_000  # about 17 days at the 5-minute cap

    assert 150 <= h.runner.backoff_delay() <= 300


def test_watches_from_the_server_are_counted_and_kept_across_a_restart(
    make_runner: Any, server: FakeServer, tmp_path: Path
) -> None:
    """The answer's configuration is applied, its rev reported, and its points sent in
    samples of their own (here more than one sample can hold), all of it a valid batch."""
    table = [("nginx", "nginx: worker"), ("nginx", "nginx: master")]
    processes = [{"check": i, "name": "nginx" if i % 2 else "absent"} for i in range(1, 501)]
    logs = []
    for i in range(501, 521):
        (tmp_path / f"{i}.log").write_text("")
        logs.append({"check": i, "path": str(tmp_path / f"{i}.log"), "pattern": "E"})
    server.config = {"rev": "c0ffee", "processes": processes, "logs": logs, "sweeps": []}

    def watcher() -> Watcher:
        return Watcher([str(tmp_path)], processes=lambda cmdline: table)

    h = make_runner(watcher=watcher())

    h.runner.run(max_ticks=2)

    first, second = server.stored
    assert "config_rev" not in first and second["config_rev"] == "c0ffee"
    counts = {
        int(p["labels"]["check"]): p["value"]
        for sample in second["samples"]
        for p in sample["points"]
        if p["name"] == "watch.process_count"
    }
    assert len(counts) == 500 and counts[1] == 2 and counts[2] == 0
    matches = [
        p for s in second["samples"] for p in s["points"] if p["name"] == "watch.log_matches"
    ]
    assert len(matches) == 20
    assert all(len(s["points"]) <= 500 for s in second["samples"])
    Batch.model_validate(second)
    # A restarted agent goes on with what it was told, without asking again.
    server.config = None
    again = make_runner(watcher=watcher())
    again.runner.run(max_ticks=1)
    assert server.stored[-1]["config_rev"] == "c0ffee"


def test_watch_counts_of_two_ticks_within_a_second_keep_their_own_second(
    make_runner: Any, server: FakeServer, clock: ManualClock, tmp_path: Path
) -> None:
    """The server keeps one value per series and second; a log count is a count of new lines,
    so the second of two quick ticks (`run --once` twice) must not share the first's second."""
    log = tmp_path / "app.log"
    log.write_text("")
    server.config = {
        "rev": "aa",
        "logs": [{"check": 5, "path": str(log), "pattern": "ERROR"}],
    }
    h = make_runner(watcher=Watcher([str(tmp_path)], processes=lambda cmdline: []))
    h.runner.run_once()  # learns the watch
    h.runner.run_once()  # first look: the log starts at its end
    log.write_text("ERROR one\n")
    clock.advance(0.3)
    h.runner.run_once()
    stamps = [
        (int(s["ts"]), p["value"])
        for b in server.stored
        for s in b["samples"]
        for p in s["points"]
        if p["name"] == "watch.log_matches"
    ]
    assert [v for _, v in stamps] == [0, 1]
    assert stamps[0][0] != stamps[1][0]
