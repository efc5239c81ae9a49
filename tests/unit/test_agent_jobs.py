"""Signed jobs on the agent: what is refused (and why), and how a job runs."""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from dataclasses import replace
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from forewarn.agent.jobs import (
    MAX_SEEN,
    JobRunner,
    Ran,
    Refusal,
    run_command,
    script_interpreter,
    verify,
)
from forewarn.domain.jobs import MAX_OUTPUT, Envelope, bound_output, canonical, parse

NOW = 1_790_000_000
KEY = Ed25519PrivateKey.generate()
PUB = base64.b64encode(
    KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
).decode()


def envelope(**changes: Any) -> Envelope:
    env = Envelope(
        id=7,
        asset_id=3,
        agent_id=5,
        kind="script",
        payload={"language": "bash", "body": "echo hi", "params": {}},
        issued_at=NOW,
        not_after=NOW + 600,
        nonce="ab" * 16,
    )
    return replace(env, **changes)


def order(env: Envelope, key: Ed25519PrivateKey = KEY) -> dict[str, Any]:
    raw = canonical(env)
    return {"id": env.id, "envelope": raw.decode(), "sig": base64.b64encode(key.sign(raw)).decode()}


def refusal(o: object, **kw: Any) -> str:
    with pytest.raises(Refusal) as info:
        verify(o, KEY.public_key(), kw.pop("agent_id", 5), kw.pop("now", NOW + 1), **kw)
    return str(info.value)


def test_a_signed_job_for_this_agent_verifies():
    env = envelope()
    assert verify(order(env), KEY.public_key(), 5, NOW + 1) == env


def test_canonical_bytes_are_sorted_compact_ascii_and_round_trip():
    env = envelope(payload={"body": "é ünïcode", "language": "bash"})
    raw = canonical(env)
    assert raw.isascii() and b" " not in raw.replace(b"\\u00e9 ", b"")
    assert list(json.loads(raw)) == sorted(json.loads(raw))
    assert parse(raw.decode()) == env


def test_unsigned_jobs_are_refused():
    o = order(envelope())
    assert refusal({**o, "sig": ""}).startswith("unsigned")
    assert refusal({"id": 7, "envelope": "", "sig": o["sig"]}).startswith("unsigned")
    assert refusal("not a job").startswith("malformed")


def test_an_altered_payload_is_refused():
    o = order(envelope())
    tampered = o["envelope"].replace("echo hi", "rm -rf /")
    assert refusal({**o, "envelope": tampered}).startswith("bad signature")


def test_a_job_signed_by_another_key_is_refused():
    assert refusal(order(envelope(), Ed25519PrivateKey.generate())).startswith("bad signature")


def test_a_garbled_signature_is_refused():
    assert refusal({**order(envelope()), "sig": "%%%"}).startswith("bad signature")


def test_an_outer_id_other_than_the_signed_one_is_refused():
    assert refusal({**order(envelope()), "id": 8}).startswith("altered")


def test_a_job_for_another_agent_is_refused():
    assert refusal(order(envelope(agent_id=6))).startswith("wrong agent")


def test_an_expired_job_is_refused():
    assert refusal(order(envelope()), now=NOW + 601).startswith("expired")


def test_a_replayed_job_is_refused_also_below_a_full_memory():
    assert refusal(order(envelope()), seen=[7]).startswith("replayed")
    full = list(range(100, 100 + MAX_SEEN))
    assert refusal(order(envelope()), seen=full, seen_full=True).startswith("replayed")


def fake_runner(calls: list[list[str]], ran: Ran = Ran(0, b"ok\n")):
    def run(argv, env, timeout):
        calls.append(list(argv))
        return ran

    return run


def test_the_runner_reports_a_refusal_and_runs_nothing():
    calls: list[list[str]] = []
    jobs = JobRunner(5, PUB, run=fake_runner(calls), clock=lambda: NOW + 1)
    o = order(envelope())
    bad = {**o, "envelope": o["envelope"].replace("echo hi", "echo pwned")}
    got = jobs.handle(bad, persist=lambda s: None)
    assert got is not None and got["state"] == "refused" and "bad signature" in got["reason"]
    assert calls == []


def test_the_runner_runs_once_and_remembers_before_running():
    calls: list[list[str]] = []
    kept: list[str] = []
    jobs = JobRunner(5, PUB, run=fake_runner(calls), clock=lambda: NOW + 1)
    o = order(envelope())
    first = jobs.handle(o, persist=kept.append)
    assert first is not None and first["state"] == "succeeded" and first["output"] == "ok\n"
    assert json.loads(kept[0]) == {"seen": [7], "running": {"7": None}}  # accepted
    assert json.loads(kept[1]) == {"seen": [7], "running": {"7": NOW + 1}}  # started
    again = jobs.handle(o, persist=kept.append)
    assert again is not None and again["state"] == "refused" and "replayed" in again["reason"]
    assert len(calls) == 1


def test_a_job_interrupted_by_a_crash_is_reported_failed_after_restart():
    jobs = JobRunner(5, PUB, clock=lambda: NOW + 2)
    owed = jobs.restore(json.dumps({"seen": [7], "running": 7}))
    assert [(r["job"], r["state"]) for r in owed] == [(7, "failed")]
    assert jobs.seen == [7] and jobs.running == {}
    assert owed[0]["reason"] == "the agent stopped while the job ran"


def test_reboot_is_refused_outside_its_window_and_never_run_here():
    calls: list[list[str]] = []
    jobs = JobRunner(5, PUB, run=fake_runner(calls), clock=lambda: NOW + 1)
    out = jobs.handle(order(envelope(id=9, kind="reboot", payload={})), persist=lambda s: None)
    assert out is not None and out["state"] == "refused" and "window" in out["reason"]
    inside = envelope(id=10, kind="reboot", payload={"in_window": True})
    assert jobs.handle(order(inside), persist=lambda s: None)["state"] == "succeeded"  # type: ignore[index]
    assert calls == [["systemctl", "reboot"]]  # the fake runner: nothing rebooted


def test_restart_service_takes_a_plain_unit_name_only():
    calls: list[list[str]] = []
    jobs = JobRunner(5, PUB, run=fake_runner(calls), clock=lambda: NOW + 1)
    ok = envelope(id=11, kind="restart_service", payload={"service": "nginx.service"})
    bad = envelope(id=12, kind="restart_service", payload={"service": "--force x"})
    assert jobs.handle(order(ok), persist=lambda s: None)["state"] == "succeeded"  # type: ignore[index]
    assert jobs.handle(order(bad), persist=lambda s: None)["state"] == "refused"  # type: ignore[index]
    assert calls == [["systemctl", "restart", "--", "nginx.service"]]


def test_a_real_script_gets_its_parameters_and_nothing_of_the_agent():
    os.environ["FOREWARN_SECRET_OF_AGENT"] = "x"
    try:
        jobs = JobRunner(5, PUB, clock=time.time)
        body = 'echo "$GREETING"; echo "[${FOREWARN_SECRET_OF_AGENT:-}]"; exit 3'
        env = envelope(
            id=13,
            not_after=int(time.time()) + 60,
            payload={"language": "bash", "body": body, "params": {"GREETING": "hello"}},
        )
        out = jobs.handle(order(env), persist=lambda s: None)
    finally:
        del os.environ["FOREWARN_SECRET_OF_AGENT"]
    assert out is not None
    assert (out["state"], out["exit_code"], out["output"]) == ("failed", 3, "hello\n[]\n")


def test_python_scripts_run_too():
    jobs = JobRunner(5, PUB, clock=time.time)
    body = "import os; print(os.environ['N'] * 2)"
    env = envelope(
        id=14,
        not_after=int(time.time()) + 60,
        payload={"language": "python", "body": body, "params": {"N": "ab"}},
    )
    out = jobs.handle(order(env), persist=lambda s: None)
    assert out is not None and (out["state"], out["output"]) == ("succeeded", "abab\n")


def test_a_hanging_command_is_killed_with_its_children_at_the_timeout(tmp_path):
    marker = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {marker}; echo started; wait"
    began = time.monotonic()
    ran = run_command(["/bin/bash", "-c", script], {"PATH": "/usr/bin:/bin"}, 0.5)
    assert time.monotonic() - began < 10
    assert ran.timed_out and ran.exit_code is None and b"started" in ran.output
    child = int(marker.read_text())
    assert _gone(child)


def _gone(pid: int) -> bool:
    """Dead: no such process, or a zombie waiting for a parent (PID 1 here) to reap it."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_output_is_bounded_to_its_tail():
    ran = run_command(
        ["/bin/bash", "-c", "head -c 300000 /dev/zero | tr '\\0' a; echo END"], {}, 20
    )
    text, cut = bound_output(ran.output)
    assert cut and len(text.encode()) <= MAX_OUTPUT and text.endswith("aEND\n")
    assert bound_output(b"\xff" * 10) == ("\ufffd" * 10, False)


def test_install_updates_runs_apt_non_interactively_with_exact_versions():
    calls: list[list[str]] = []
    jobs = JobRunner(5, PUB, run=fake_runner(calls), clock=lambda: NOW + 1)
    payload = {"packages": [{"name": "libssl3", "version": "3.0.15-1~deb12u1"}, {"name": "g++"}]}
    env = envelope(id=20, kind="install_updates", payload=payload)
    assert jobs.handle(order(env), persist=lambda s: None)["state"] == "succeeded"  # type: ignore[index]
    argv = calls[0]
    assert argv[0] == "apt-get" and "--only-upgrade" in argv and "-y" in argv
    assert "Dpkg::Options::=--force-confold" in argv
    assert not any(a.startswith("Dir=") for a in argv)  # the real system unless configured
    assert argv[-3:] == ["--", "libssl3=3.0.15-1~deb12u1", "g++"]
    assert jobs.updates_changed is True


@pytest.mark.parametrize(
    "packages",
    [
        [{"name": "lib ssl"}],
        [{"name": "-o"}],
        [{"name": "--allow-downgrades"}],
        [{"name": "vim;reboot"}],
        [{"name": "vim$(id)"}],
        [{"name": "vim`id`"}],
        [{"name": "vim\n"}],
        [{"name": "vim", "version": "1.0 -o Dir=/tmp"}],
        [{"name": "vim", "version": "-1.0"}],
        [{"name": "vim", "version": "1.0;id"}],
        [{"name": "vim", "version": 1}],
        [{"name": "vim", "options": "-o x"}],
        [{"name": "vim"}, {"name": "vim"}],
        [{"name": f"pkg{i}"} for i in range(201)],
        [],
        "vim",
        None,
    ],
)
def test_install_updates_refuses_a_bad_package_list_and_runs_nothing(packages: object):
    calls: list[list[str]] = []
    jobs = JobRunner(5, PUB, run=fake_runner(calls), clock=lambda: NOW + 1)
    env = envelope(id=21, kind="install_updates", payload={"packages": packages})
    out = jobs.handle(order(env), persist=lambda s: None)
    assert out is not None and out["state"] == "refused"
    assert out["reason"].startswith("bad install_updates payload")
    assert calls == []


def test_install_updates_on_another_root_only_by_the_agents_own_setting():
    calls: list[list[str]] = []
    jobs = JobRunner(5, PUB, run=fake_runner(calls), clock=lambda: NOW + 1, apt_root="/srv/r")
    payload = {"packages": [{"name": "fwdemo"}], "root": "/elsewhere"}
    jobs.handle(order(envelope(id=22, kind="install_updates", payload=payload)), lambda s: None)
    assert "Dir=/srv/r" in calls[0] and "DPkg::Options::=--root=/srv/r" in calls[0]
    assert not any("elsewhere" in a for a in calls[0])


def test_a_reboot_arriving_after_its_window_ended_is_refused():
    calls: list[list[str]] = []
    end = NOW + 60

    def at(moment: float) -> JobRunner:
        return JobRunner(5, PUB, run=fake_runner(calls), clock=lambda: moment)

    reboot = {"in_window": True, "window_end": end}
    late = at(end + 1).handle(
        order(envelope(id=11, kind="reboot", payload=reboot)), persist=lambda s: None
    )
    assert late is not None and late["state"] == "refused"
    assert late["reason"] == f"reboot outside the maintenance window: it ended at {end}"
    bad = at(NOW).handle(
        order(envelope(id=12, kind="reboot", payload={**reboot, "window_end": "later"})),
        persist=lambda s: None,
    )
    assert bad is not None and bad["state"] == "refused"
    assert calls == []
    ok = at(end - 1).handle(
        order(envelope(id=13, kind="reboot", payload=reboot)), persist=lambda s: None
    )
    assert ok is not None and ok["state"] == "succeeded"
    assert calls == [["systemctl", "reboot"]]  # the fake runner: nothing rebooted


def test_a_powershell_script_is_kept_for_windows_agents():
    """Here (Linux) the real runner refuses it and runs nothing; on Windows it would run
    under powershell.exe (the platform is the one thing this test cannot be: it is passed)."""
    calls: list[list[str]] = []
    jobs = JobRunner(5, PUB, run=fake_runner(calls), clock=lambda: NOW + 1)
    ps = envelope(id=13, payload={"language": "powershell", "body": "Get-Date", "params": {}})
    got = jobs.handle(order(ps), persist=lambda s: None)
    assert got is not None and got["state"] == "refused"
    assert "Windows agents only" in got["reason"] and calls == []
    assert script_interpreter("powershell", "win32")[0] == "powershell.exe"
    assert script_interpreter("powershell", "win32")[-1] == "-File"  # the script's path follows
    with pytest.raises(Refusal, match="Windows agents only"):
        script_interpreter("powershell", "linux")
    with pytest.raises(Refusal, match="Windows agent"):
        script_interpreter("bash", "win32")
    assert script_interpreter("bash", "linux") == ["/bin/bash"]
    assert script_interpreter("python", "win32") == [sys.executable]
