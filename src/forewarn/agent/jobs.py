"""Jobs from the server: verify the signature against the pinned key, then run, bounded.

A job arrives in a check-in answer as {"id", "envelope", "sig"}: the envelope is the
canonical JSON the server signed (forewarn.domain.jobs), the signature Ed25519 over its
bytes. The agent runs a job only when the signature verifies against the key it pinned at
enrolment, the job names this agent, it has not run before and it has not expired; any other
job is refused with its reason, which goes back to the server like a result, and nothing runs.

Every job id seen is remembered (the newest MAX_SEEN, kept in the buffer's meta table): a
job delivered again is a replay. Once the memory is full, an id below all remembered ones is
a replay too, so forgetting old ids never reopens them. The id is remembered *before* the job
runs: a job interrupted by a crash (or by the reboot it asked for) is never run twice; it is
reported as failed, outcome unknown, when the agent starts again.

Jobs run beside the check-in loop, not in it (forewarn.agent.job_worker): the loop verifies
and accepts a job (accept), worker threads run it (execute). The ids accepted and not yet
finished are remembered with the moment each started, so after a restart the agent tells a
job it stopped while running from one it had not started yet.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from forewarn.domain.jobs import (
    DEFAULT_TIMEOUT,
    INSTALL_TIMEOUT,
    MAX_ENVELOPE,
    MAX_OUTPUT,
    MAX_TIMEOUT,
    Envelope,
    bound_output,
    install_manager,
    install_targets,
    parse,
)

log = logging.getLogger("forewarn.agent.jobs")

META_JOBS = "jobs_state"
MAX_SEEN = 1000
PARAM_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")
SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._:-]{0,254}$")
# What a script's environment holds besides its parameters: nothing of the agent's own.
BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
# Tests only: install updates into the isolated system at this root instead of "/". It comes
# from the agent's own environment, never from a job.
APT_ROOT_ENV = "FOREWARN_AGENT_APT_ROOT"
# Tests only, as APT_ROOT_ENV: dnf installs into the system at this root (--installroot).
DNF_ROOT_ENV = "FOREWARN_AGENT_DNF_ROOT"
# The program that restarts a service: systemctl unless the agent's own environment names
# another (a machine without systemd, or a test's small supervisor). It is called as
# `PROGRAM restart -- NAME`, as systemctl is; it never comes from a job.
SERVICE_MANAGER_ENV = "FOREWARN_AGENT_SERVICE_MANAGER"
INTERRUPTED = "the agent stopped while the job ran"
NOT_STARTED = "the agent stopped before the job started"


def apt_root_options(root: str | None) -> list[str]:
    """apt-get options that make it (and the dpkg it runs) work on the system at `root`."""
    if not root or root == "/":
        return []
    r = root.rstrip("/")
    return [
        *("-o", f"Dir={r}", "-o", f"Dir::State::status={r}/var/lib/dpkg/status"),
        *("-o", f"Dir::Etc::Parts={r}/etc/apt/apt.conf.d", "-o", f"Dir::Log={r}/var/log/apt"),
        *("-o", "Debug::NoLocking=1", "-o", "APT::Sandbox::User=root"),
        *("-o", f"DPkg::Options::=--root={r}", "-o", f"DPkg::Options::=--log={r}/var/log/dpkg.log"),
        *("-o", "DPkg::Options::=--force-script-chrootless"),
    ]


def dnf_root_options(root: str | None) -> list[str]:
    """dnf options that make it work on the system at `root`: --installroot alone, which
    also reads that system's dnf.conf and repositories and keeps its cache there."""
    if not root or root == "/":
        return []
    return [f"--installroot={root.rstrip('/')}"]


def dnf_tool() -> str:
    """dnf, or yum where only yum exists (EL8 and later ship yum as dnf; yum 3 takes the same
    `-y --installroot upgrade NEVRA`); "dnf" when neither is found (the job then fails)."""
    path = BASE_ENV["PATH"]
    return "dnf" if shutil.which("dnf", path=path) or not shutil.which("yum", path=path) else "yum"


def install_argv(
    payload: dict[str, Any], root: str | None = None, dnf_root: str | None = None
) -> list[str]:
    """The package manager's command upgrading exactly the listed packages, non-interactively;
    Refusal when the payload is not a strict package list.

    apt: `apt-get install --only-upgrade`, keeping changed configuration files. dnf:
    `dnf -y upgrade -- NEVRA...`: upgrade (not install) touches only installed packages and
    never downgrades; a NEVRA names that exact build. The one option set, strict=True, makes
    a build no longer in the repositories fail the job rather than be skipped (a machine's
    dnf.conf may say otherwise), so "succeeded" always means installed. `root` is apt's
    test root, `dnf_root` dnf's: the agent's own settings, never the job's.
    """
    try:
        manager = install_manager(payload)
        targets = install_targets(payload)
    except ValueError as exc:
        raise Refusal(f"bad install_updates payload: {exc}") from exc
    if manager == "dnf":
        return [
            dnf_tool(),
            "-y",
            *dnf_root_options(dnf_root),
            "--setopt=strict=True",
            "upgrade",
            "--",
            *targets,
        ]
    return [
        "apt-get",
        *apt_root_options(root),
        *("install", "--only-upgrade", "-y", "-q"),
        *("-o", "Dpkg::Options::=--force-confold", "-o", "DPkg::Use-Pty=0"),
        "--",
        *targets,
    ]


class Refusal(Exception):
    """A job that must not run; str() is the reason reported to the server."""


@dataclass(frozen=True)
class Ran:
    """How a command ended."""

    exit_code: int | None
    output: bytes
    timed_out: bool = False


CommandRunner = Callable[[Sequence[str], dict[str, str], float], Ran]


def load_public_key(b64: str) -> Any:
    """The pinned server key (imported here: an agent that never gets a job never loads it)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))


def verify(
    order: object,
    public_key: Any,
    agent_id: int,
    now: float,
    seen: Sequence[int] = (),
    seen_full: bool = False,
) -> Envelope:
    """The envelope of a job that may run, or Refusal with the reason it may not."""
    from cryptography.exceptions import InvalidSignature

    if not isinstance(order, dict):
        raise Refusal("malformed: not an object")
    raw, sig = order.get("envelope"), order.get("sig")
    if not isinstance(raw, str) or not raw or len(raw) > MAX_ENVELOPE:
        raise Refusal("unsigned: no envelope")
    if not isinstance(sig, str) or not sig:
        raise Refusal("unsigned: no signature")
    try:
        signature = base64.b64decode(sig, validate=True)
        public_key.verify(signature, raw.encode("utf-8"))
    except (binascii.Error, ValueError, InvalidSignature):
        raise Refusal(
            "bad signature: the job was altered or not signed by the pinned key"
        ) from None
    try:
        env = parse(raw)
    except ValueError as exc:
        raise Refusal(f"malformed: {exc}") from exc
    if env.id != order.get("id"):
        raise Refusal("altered: the job id outside the envelope is not the signed one")
    if env.agent_id != agent_id:
        raise Refusal(f"wrong agent: the job is for agent {env.agent_id}, this is {agent_id}")
    if env.id in seen or (seen_full and seen and env.id < min(seen)):
        raise Refusal("replayed: this job already ran or was refused here")
    if now > env.not_after:
        raise Refusal(f"expired at {env.not_after}, {now - env.not_after:.0f} s ago")
    return env


def run_command(argv: Sequence[str], env: dict[str, str], timeout: float) -> Ran:
    """Run argv in its own process group; at the timeout kill the whole group.

    Output (stdout and stderr together) is read as it comes and only its tail is kept, so a
    chatty script costs at most MAX_OUTPUT of memory however much it prints.
    """
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # its own process group: killpg reaches its children too
    )
    tail = bytearray()

    def read() -> None:
        assert proc.stdout is not None
        for chunk in iter(lambda: proc.stdout.read1(65536), b""):  # type: ignore[union-attr]
            tail.extend(chunk)
            if len(tail) > 2 * MAX_OUTPUT:
                del tail[: len(tail) - MAX_OUTPUT - 1]

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    # A child that escaped the group could hold the pipe open: bounded wait for the reader.
    reader.join(timeout=2)
    if proc.stdout is not None:
        proc.stdout.close()
    return Ran(None if timed_out else proc.returncode, bytes(tail), timed_out)


@dataclass
class JobRunner:
    """Verifies and runs the jobs of one enrolled agent."""

    agent_id: int
    public_key_b64: str
    run: CommandRunner = run_command
    clock: Callable[[], float] = time.time
    apt_root: str | None = None  # the agent's own setting (APT_ROOT_ENV), for tests
    dnf_root: str | None = None  # the agent's own setting (DNF_ROOT_ENV), for tests
    seen: list[int] = field(default_factory=list)
    service_manager: str = "systemctl"  # the agent's own setting (SERVICE_MANAGER_ENV)
    updates_changed: bool = False  # an install ran: send the updates section again soon
    # Accepted and not finished: job id -> when it started (None: waiting for a worker).
    running: dict[int, float | None] = field(default_factory=dict)
    _key: Any = None
    # Worker threads and the loop share `seen` and `running`; whoever changes them writes
    # remember() while holding this, so the newest state is the one stored.
    lock: threading.RLock = field(default_factory=threading.RLock)

    # ---- state kept in the buffer ----------------------------------------------------------

    def restore(self, kept: str | None) -> list[dict[str, Any]]:
        """Load what was remembered; results owed for jobs a stop or crash interrupted."""
        owed: list[dict[str, Any]] = []
        try:
            data = json.loads(kept) if kept else {}
            self.seen = [int(i) for i in data.get("seen", [])][-MAX_SEEN:]
            running = data.get("running")
            if isinstance(running, int):  # one job, about to run, as older agents kept it
                running = {str(running): self.clock()}
            left = {int(k): v for k, v in (running or {}).items()}
        except (ValueError, TypeError, AttributeError):
            log.warning("the remembered job ids are unreadable; starting afresh")
            self.seen, left = [], {}
        now = self.clock()
        for job_id, started in sorted(left.items()):
            if isinstance(started, int | float) and started > 0:
                owed.append(result(job_id, "failed", started, now, reason=INTERRUPTED))
            else:
                owed.append(result(job_id, "failed", now, now, reason=NOT_STARTED))
        self.running = {}
        return owed

    def remember(self) -> str:
        with self.lock:
            running = {str(k): v for k, v in self.running.items()}
            return json.dumps({"seen": self.seen[-MAX_SEEN:], "running": running})

    # ---- one job ---------------------------------------------------------------------------

    def handle(self, order: object, persist: Callable[[str], None]) -> dict[str, Any] | None:
        """Verify and run one job here and now; its result (None for an order without a
        usable id, or one already accepted)."""
        accepted = self.accept(order, persist)
        if not isinstance(accepted, Envelope):
            return accepted
        try:
            return self.execute(accepted, persist)
        finally:
            self.finish(accepted.id)  # the caller stores the result with remember()

    def accept(
        self, order: object, persist: Callable[[str], None]
    ) -> Envelope | dict[str, Any] | None:
        """Verify one job: its envelope once accepted (remembered through `persist` before
        this returns, so it never runs twice), a refusal result, or None (no usable id, or
        accepted already and not finished: a redelivery while it waits or runs)."""
        job_id = order.get("id") if isinstance(order, dict) else None
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            log.warning("a job without an id was ignored")
            return None
        with self.lock:
            if job_id in self.running:
                return None
            now = self.clock()
            try:
                if self._key is None:
                    self._key = load_public_key(self.public_key_b64)
                env = verify(
                    order, self._key, self.agent_id, now, self.seen, len(self.seen) >= MAX_SEEN
                )
            except Refusal as exc:
                log.warning("job %d refused: %s", job_id, exc)
                if job_id not in self.seen:
                    self._see(job_id)
                return result(job_id, "refused", now, self.clock(), reason=str(exc))
            except (ValueError, binascii.Error) as exc:  # the pinned key itself is unusable
                return result(job_id, "refused", now, self.clock(), reason=f"no usable key: {exc}")
            self._see(env.id)
            self.running[env.id] = None
            persist(self.remember())  # before it runs: a crash never runs it twice
            return env

    def start(self, env: Envelope, persist: Callable[[str], None]) -> float:
        """Mark an accepted job started (remembered through `persist`); when it started."""
        with self.lock:
            started = self.clock()
            self.running[env.id] = started
            persist(self.remember())
            return started

    def execute(
        self, env: Envelope, persist: Callable[[str], None] | None = None
    ) -> dict[str, Any]:
        """Run an accepted job; its result. The job stays in `running` until the caller
        stores the result (finish), so a crash in between still reports it."""
        started = self.start(env, persist) if persist is not None else self.clock()
        return self._execute(env, started)

    def finish(self, job_id: int) -> None:
        """The job's result is stored (or about to be, in the same transaction as remember())."""
        with self.lock:
            self.running.pop(job_id, None)

    def _see(self, job_id: int) -> None:
        self.seen.append(job_id)
        del self.seen[:-MAX_SEEN]

    def _execute(self, env: Envelope, started: float) -> dict[str, Any]:
        try:
            argv, environ, cleanup = self._command(env)
        except Refusal as exc:
            return result(env.id, "refused", started, self.clock(), reason=str(exc))
        timeout = _timeout(env.payload, INSTALL_TIMEOUT if env.kind == "install_updates" else None)
        if env.kind == "install_updates":
            self.updates_changed = True  # whatever the outcome, the pending list may differ
        try:
            ran = self.run(argv, environ, timeout)
        except OSError as exc:
            return result(env.id, "failed", started, self.clock(), reason=f"cannot start: {exc}")
        finally:
            cleanup()
        text, cut = bound_output(ran.output)
        if ran.timed_out:
            state, reason = "timed_out", f"killed after {timeout:g} s"
        else:
            state, reason = ("succeeded" if ran.exit_code == 0 else "failed"), ""
        return result(
            env.id, state, started, self.clock(), ran.exit_code, text, cut=cut, reason=reason
        )

    def _command(self, env: Envelope) -> tuple[list[str], dict[str, str], Callable[[], None]]:
        payload = env.payload
        environ = {
            **BASE_ENV,
            "HOME": "/root" if os.geteuid() == 0 else os.environ.get("HOME", "/"),
        }
        environ["FOREWARN_JOB_ID"] = str(env.id)
        if env.kind == "restart_service":
            name = payload.get("service")
            if not isinstance(name, str) or not SERVICE_NAME.match(name):
                raise Refusal(f"not a service name: {name!r}")
            return [self.service_manager, "restart", "--", name], environ, _nothing
        if env.kind == "install_updates":
            argv = install_argv(payload, self.apt_root, self.dnf_root)
            environ["DEBIAN_FRONTEND"] = "noninteractive"
            environ["APT_LISTCHANGES_FRONTEND"] = "none"
            environ["NEEDRESTART_MODE"] = "l"  # needrestart: list, never ask
            return argv, environ, _nothing
        if env.kind == "reboot":
            if payload.get("in_window") is not True:
                raise Refusal("reboot outside the maintenance window")
            end = payload.get("window_end")
            if end is not None and (
                not isinstance(end, int) or isinstance(end, bool) or self.clock() > end
            ):
                # Issued inside the window but arrived (or ran) after it ended.
                raise Refusal(f"reboot outside the maintenance window: it ended at {end}")
            return ["systemctl", "reboot"], environ, _nothing
        language, body = payload.get("language"), payload.get("body")
        if language not in SCRIPT_LANGUAGES or not isinstance(body, str):
            raise Refusal("a script needs a language (bash, python or powershell) and a body")
        interpreter = script_interpreter(language, sys.platform)
        params = payload.get("params") or {}
        if not isinstance(params, dict):
            raise Refusal("script parameters must be an object")
        for key, value in params.items():
            if not PARAM_NAME.match(str(key)) or not isinstance(value, str) or "\x00" in value:
                raise Refusal(f"bad script parameter {key!r}")
            environ[key] = value
        suffix = ".ps1" if language == "powershell" else ".script"  # PowerShell wants .ps1
        fd, path = tempfile.mkstemp(prefix=f"forewarn-job-{env.id}-", suffix=suffix)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(body)
        return [*interpreter, path], environ, lambda: _unlink(path)


SCRIPT_LANGUAGES = ("bash", "python", "powershell")


def script_interpreter(language: str, platform: str) -> list[str]:
    """The command a library script of `language` runs under on `platform` (sys.platform),
    the script's path following. PowerShell scripts are kept for Windows agents: elsewhere
    they are refused, as bash is on Windows."""
    if language == "python":
        return [sys.executable]
    windows = platform == "win32"
    if language == "powershell":
        if not windows:
            raise Refusal("a PowerShell script runs on Windows agents only")
        return ["powershell.exe", "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "Bypass",
                "-File"]  # fmt: skip
    if windows:
        raise Refusal("a bash script does not run on a Windows agent")
    return ["/bin/bash"]


def result(
    job_id: int,
    state: str,
    started: float,
    finished: float,
    exit_code: int | None = None,
    output: str = "",
    *,
    cut: bool = False,
    reason: str = "",
) -> dict[str, Any]:
    """A job's result as the batch carries it (wire.JobResult)."""
    return {
        "job": job_id,
        "state": state,
        "exit_code": exit_code,
        "output": output,
        "output_cut": cut,
        "reason": reason[:1000],
        "started_at": started,
        "finished_at": max(finished, started),
    }


def _timeout(payload: dict[str, Any], default: int | None = None) -> float:
    fallback = DEFAULT_TIMEOUT if default is None else default
    value = payload.get("timeout", fallback)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        return float(fallback)
    return float(min(value, MAX_TIMEOUT))


def _nothing() -> None:
    return None


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
