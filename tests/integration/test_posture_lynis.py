"""Debian's lynis audits this machine beside the agent's posture checks, and where both look
at the same thing they agree.

lynis runs its firewall, authentication and SSH groups (`--tests-from-group`, ~15 s rather
than minutes for a full audit). An sshd is started on loopback for the run when this machine
has one, because lynis audits SSH settings only while sshd runs. The comparisons respect the
two tools' different bars: where ours is stricter (SSH root login: we ask for `no`, lynis
also accepts `prohibit-password`; firewall: we ask for default-deny input, lynis counts a
loaded packet-filter module as active), a lynis complaint must be ours too, not the reverse.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn.agent.posture import RealIo, evaluate
from forewarn.security.posture_policy import parse

PACK = Path(__file__).parents[2] / "src/forewarn/data/posture/linux.yml"
LYNIS = shutil.which("lynis") or ("/usr/sbin/lynis" if os.path.exists("/usr/sbin/lynis") else "")
SSHD = "/usr/sbin/sshd"

pytestmark = pytest.mark.skipif(
    not LYNIS or os.geteuid() != 0,
    reason="lynis is not installed (apt-get install lynis; .ci/run does) or not root",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bool]:
    """An sshd on loopback for lynis to see (False when this machine has none)."""
    if not os.path.exists(SSHD) or not list(Path("/etc/ssh").glob("ssh_host_*_key")):
        yield False
        return
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    pid_file = tmp_path_factory.mktemp("sshd") / "sshd.pid"
    proc = subprocess.Popen(
        [
            SSHD,
            "-D",
            "-p",
            str(_free_port()),
            "-o",
            "ListenAddress=127.0.0.1",
            "-o",
            f"PidFile={pid_file}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        yield proc.poll() is None
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def lynis(sshd: bool, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """lynis's report: key -> values (a key[] repeats)."""
    out = tmp_path_factory.mktemp("lynis")
    report = out / "report.dat"
    subprocess.run(
        [
            LYNIS,
            "audit",
            "system",
            "--quick",
            "--no-colors",
            "--tests-from-group",
            "firewalls authentication ssh",
            "--report-file",
            str(report),
            "--log-file",
            str(out / "lynis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=300,
        check=False,
        cwd=out,
    )
    values: dict[str, list[str]] = {}
    for line in report.read_text(errors="replace").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            values.setdefault(key.removesuffix("[]"), []).append(value)
    assert values, "lynis wrote no report"
    return values


@pytest.fixture(scope="module")
def ours() -> dict[str, str]:
    policy = parse(PACK.read_text()).to_agent("server")
    return {r["check"]: r["status"] for r in evaluate(policy, RealIo())}


def _ssh_flags(lynis: dict[str, list[str]]) -> set[str]:
    """The sshd options lynis would change (SSH-7408 details), lower case."""
    flagged = set()
    for detail in lynis.get("details", []):
        if detail.startswith("SSH-7408|") and "field:" in detail:
            flagged.add(detail.split("field:", 1)[1].split(";", 1)[0].lower())
    return flagged


def test_firewall(lynis: dict[str, list[str]], ours: dict[str, str]) -> None:
    active = lynis.get("firewall_active", ["0"])[0] == "1"
    empty = lynis.get("firewall_empty_ruleset", ["0"])[0] == "1"
    if not active or empty:  # lynis sees no filtering at all: ours must fail too
        assert ours["linux.firewall.default_deny"] == "fail"
    if ours["linux.firewall.default_deny"] == "pass":  # we saw default-deny: lynis sees a firewall
        assert active and not empty


def test_accounts_with_uid_0(lynis: dict[str, list[str]], ours: dict[str, str]) -> None:
    lynis_found = any(w.startswith("AUTH-9204|") for w in lynis.get("warning", []))
    assert (ours["linux.accounts.uid0"] == "fail") == lynis_found


def test_ssh_settings(sshd: bool, lynis: dict[str, list[str]], ours: dict[str, str]) -> None:
    if not sshd or lynis.get("ssh_daemon_running", ["0"])[0] != "1":
        pytest.skip("no sshd on this machine: lynis audits SSH only while sshd runs")
    flagged = _ssh_flags(lynis)
    # Same bar on both sides.
    assert ("x11forwarding" in flagged) == (ours["linux.ssh.x11_forwarding"] == "fail")
    # lynis wants MaxAuthTries <= 3, we <= 4: a value it accepts, we accept.
    if "maxauthtries" not in flagged:
        assert ours["linux.ssh.max_auth_tries"] == "pass"
    # lynis accepts prohibit-password too; whatever it flags, we flag.
    if "permitrootlogin" in flagged:
        assert ours["linux.ssh.root_login"] == "fail"
    if ours["linux.ssh.root_login"] == "pass":
        assert "permitrootlogin" not in flagged
