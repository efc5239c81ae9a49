"""Jobs beside the loop: at most two at once, a bounded queue, the start and the result each
stored with the jobs' state in one transaction, and what a restart reports."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from forewarn.agent.buffer import Buffer
from forewarn.agent.job_worker import JobWorkers, LongPoll
from forewarn.agent.jobs import META_JOBS, NOT_STARTED, JobRunner, Ran
from forewarn.agent.runner import Outcome, Runner, Sources, build_batch
from tests.unit.test_agent_jobs import NOW, PUB, envelope, order


class Gate:
    """A command runner that blocks each job until the test lets it go."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.release = threading.Event()
        self.cond = threading.Condition()

    def __call__(self, argv: Any, env: dict[str, str], timeout: float) -> Ran:
        with self.cond:
            self.started.append(int(env["FOREWARN_JOB_ID"]))
            self.cond.notify_all()
        assert self.release.wait(10), "never released"
        return Ran(0, b"done\n")

    def wait_started(self, n: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.started) >= n, 10)


def quiet() -> Sources:
    return Sources(
        sample=lambda now: {"ts": now, "points": []},
        inventory=lambda: {},
        changed_sections=lambda inv, hashes: {},
        section_hashes=lambda inv: {},
    )


def record_into(buffer_batches: list[dict[str, Any]]) -> Any:
    def record(buf: Buffer, running: Any, done: Any, kept: str) -> None:
        batch = build_batch(
            NOW, [], None, jobs=[done] if done else None, running=[running] if running else None
        )
        buf.append(batch, remember={META_JOBS: kept})
        buffer_batches.append(batch)

    return record


def test_two_jobs_run_at_once_the_third_waits_and_the_queue_is_bounded(tmp_path: Path) -> None:
    gate = Gate()
    jobs = JobRunner(5, PUB, run=gate, clock=lambda: NOW + 1)
    Buffer(tmp_path / "b.db").close()
    stored: list[dict[str, Any]] = []
    nudges: list[int] = []
    workers = JobWorkers(
        jobs,
        lambda: Buffer(tmp_path / "b.db"),
        record_into(stored),
        lambda: nudges.append(1),
        queue_size=2,
    )
    try:
        for i in (1, 2, 3, 4):
            env = jobs.accept(order(envelope(id=i)), persist=lambda kept: None)
            assert not isinstance(env, dict) and env is not None
            workers.submit(env)
            if i == 2:
                gate.wait_started(2)  # both taken from the queue: it has room for two more
        assert sorted(gate.started) == [1, 2]  # two at once, not more
        assert not workers.has_room()  # 3 and 4 wait; a fifth would not be accepted
        running = {k for k, v in jobs.running.items() if v is not None}
        assert running == {1, 2} and set(jobs.running) == {1, 2, 3, 4}
        gate.release.set()
        assert workers.wait_idle(10)
    finally:
        workers.stop()
    assert sorted(gate.started) == [1, 2, 3, 4] and jobs.running == {}
    starts = [b["running"][0]["job"] for b in stored if "running" in b]
    results = [(b["jobs"][0]["job"], b["jobs"][0]["state"]) for b in stored if "jobs" in b]
    assert sorted(starts) == [1, 2, 3, 4]
    assert sorted(results) == [(i, "succeeded") for i in (1, 2, 3, 4)]
    with Buffer(tmp_path / "b.db") as buf:
        kept = json.loads(buf.get_meta(META_JOBS) or "{}")
        assert kept["running"] == {} and sorted(kept["seen"]) == [1, 2, 3, 4]
        assert len(buf.batches()) == 8  # each start and each result, stored
    assert nudges  # the loop was told to send


def test_a_job_accepted_twice_is_queued_once() -> None:
    jobs = JobRunner(5, PUB, clock=lambda: NOW + 1)
    o = order(envelope(id=9))
    assert jobs.accept(o, persist=lambda kept: None) is not None
    assert jobs.accept(o, persist=lambda kept: None) is None  # a redelivery while it waits


def test_after_a_restart_accepted_and_started_jobs_are_told_apart() -> None:
    jobs = JobRunner(5, PUB, clock=lambda: NOW + 50)
    kept = json.dumps({"seen": [3, 4], "running": {"3": NOW + 10, "4": None}})
    owed = {r["job"]: r for r in jobs.restore(kept)}
    assert owed[3]["reason"] == "the agent stopped while the job ran"
    assert owed[3]["started_at"] == NOW + 10 and owed[3]["finished_at"] == NOW + 50
    assert owed[4]["reason"] == NOT_STARTED
    assert {r["state"] for r in owed.values()} == {"failed"}
    assert jobs.seen == [3, 4]  # neither runs again


class Sender:
    """The server as the runner sees it; `down` makes it unreachable."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.down = False

    def send(self, body: bytes) -> dict[str, Any]:
        from forewarn.agent.buffer import decode
        from forewarn.agent.client import Retry

        if self.down:
            raise Retry("connection refused")
        batch = decode(body)
        self.sent.append(batch)
        return {"batch_id": batch["batch_id"], "interval": 60}

    def close(self) -> None:
        pass


def test_a_job_that_ends_while_the_server_is_away_is_reported_when_it_is_back(
    tmp_path: Path,
) -> None:
    sender = Sender()
    jobs = JobRunner(5, PUB, run=lambda a, e, t: Ran(0, b"ok\n"), clock=lambda: NOW + 1)
    runner = Runner(Buffer(tmp_path / "b.db"), sender, quiet(), sleep=lambda s: None, jobs=jobs)
    try:
        runner.offer_jobs([order(envelope(id=8))])
        runner._take_offered()
        assert runner.workers is not None and runner.workers.wait_idle(10)
        sender.down = True  # offline: the result stays in the buffer
        assert runner.run_once() is Outcome.PENDING
        assert any(b.get("jobs") for b in runner.buffer.batches())
        sender.down = False
        assert runner.run_once() is Outcome.SENT
    finally:
        runner.close()
        runner.buffer.close()
    results = [r for b in sender.sent for r in b.get("jobs", [])]
    assert [(r["job"], r["state"], r["output"]) for r in results] == [(8, "succeeded", "ok\n")]


def test_the_runner_reports_interrupted_jobs_once_and_queues_new_ones(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    with Buffer(path) as buf:
        buf.set_meta({META_JOBS: json.dumps({"seen": [3], "running": {"3": NOW}})})

    sender = Sender()
    jobs = JobRunner(5, PUB, run=lambda a, e, t: Ran(0, b"ok\n"), clock=lambda: NOW + 1)
    runner = Runner(Buffer(path), sender, quiet(), sleep=lambda s: None, jobs=jobs)
    try:
        runner.offer_jobs([order(envelope(id=8))])
        runner._take_offered()
        assert runner.workers is not None and runner.workers.wait_idle(10)
        runner.run_once()
    finally:
        runner.close()
        runner.buffer.close()
    reported = [(r["job"], r["state"], r["reason"]) for b in sender.sent for r in b.get("jobs", [])]
    assert (3, "failed", "the agent stopped while the job ran") in reported
    assert (8, "succeeded", "") in reported
    assert [r[0] for r in reported].count(3) == 1
    assert any(b.get("running") == [{"job": 8, "started_at": NOW + 1}] for b in sender.sent)


def test_the_long_poll_offers_what_it_fetches_and_backs_off_on_failures() -> None:
    from forewarn.agent.client import Retry, Unauthorized

    calls: list[float] = []
    offered: list[list[Any]] = []
    answers: list[Any] = [[{"id": 1}], [], Retry("down"), Unauthorized("gone")]

    def fetch(wait: float) -> list[Any]:
        calls.append(wait)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return list(answer)

    poll = LongPoll(fetch, offered.append, wait=7.0, backoff_max=0.01)
    poll.start()
    poll._thread.join(10)
    assert not poll._thread.is_alive()  # a refused credential ends it
    assert offered == [[{"id": 1}]] and calls == [7.0] * 4
