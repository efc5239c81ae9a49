"""`forewarn serve --local-agent`: the server enrols and runs an agent for its own machine.

So a newcomer who types `make run` sees real data at once: this machine appears in an
organization called "This machine" with its inventory and live metrics. The agent is the
real one, a child process with its state in DATA_DIR/agent, enrolled once with a single-use
token; it stops when the server stops.
"""

from __future__ import annotations

import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from forewarn.agent import state
from forewarn.services import enrollment, orgs
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import EnrollTokenCreate, OrgCreate
from forewarn.services.scope import SYSTEM

log = logging.getLogger("forewarn.local_agent")

ORG_SLUG = "this-machine"


def _org_id(ctx: Context) -> int:
    try:
        return orgs.resolve_ref(ctx, SYSTEM, ORG_SLUG).id
    except ServiceError:
        return orgs.create(ctx, SYSTEM, OrgCreate(name="This machine", slug=ORG_SLUG)).id


def _wait_healthy(url: str, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return False


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to send SIGTERM when the server process dies.

    The server may end without running its clean-up (uvicorn re-raises SIGTERM after its
    shutdown; a SIGKILL runs nothing), and an orphaned agent would keep reporting.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LocalAgent:
    """Enrols (the first time) and runs the agent once the server answers."""

    def __init__(self, ctx: Context, url: str) -> None:
        self.ctx = ctx
        self.url = url
        self.state_dir = Path(ctx.settings.data_dir).resolve() / "agent"
        self.process: subprocess.Popen[bytes] | None = None
        self._token: str | None = None

    def prepare(self) -> None:
        """Before serving: make the organization and, if not enrolled yet, a one-use token."""
        org_id = _org_id(self.ctx)
        if not state.is_enrolled(self.state_dir):
            self._token = enrollment.create_token(
                self.ctx,
                SYSTEM,
                EnrollTokenCreate(org_id=org_id, name="local agent", max_uses=1, expires_in_days=1),
            ).token

    def start(self) -> None:
        threading.Thread(target=self._run, name="local-agent", daemon=True).start()

    def _agent(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "forewarn",
            "agent",
            *args,
            "--state-dir",
            str(self.state_dir),
        ]

    def _run(self) -> None:
        if not _wait_healthy(self.url):
            log.error("local agent not started: the server did not answer at %s", self.url)
            return
        if self._token:
            done = subprocess.run(
                self._agent("enroll", "--server", self.url, "--token", self._token),
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if done.returncode != 0:
                log.error("local agent enrolment failed: %s", done.stderr.strip())
                return
        self.process = subprocess.Popen(self._agent("run"), preexec_fn=_die_with_parent)
        # Linux ties the death signal to the thread that started the child: this thread
        # must live as long as the agent does.
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
