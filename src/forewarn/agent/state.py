"""The agent's state directory: its enrolment (agent.json) and its buffer database.

agent.json holds the agent's own credential, so it is written with mode 0600 and replaced
atomically (a temporary file, fsync, rename, fsync of the directory): a crash while saving
leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

DEFAULT_STATE_DIR = Path("/var/lib/forewarn-agent")
STATE_DIR_ENV = "FOREWARN_AGENT_STATE_DIR"
STATE_FILE = "agent.json"
BUFFER_FILE = "buffer.db"


class StateError(Exception):
    """The state directory or agent.json is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Enrolment:
    """What enrolment gave this agent; everything `run` needs to check in."""

    server: str
    agent_id: int
    asset_id: int
    org_id: int
    agent_token: str
    # Pinned at enrolment to verify signed commands later; never replaced silently.
    server_public_key: str
    interval: int
    enrolled_at: float
    ca_file: str | None = None

    def public(self) -> dict[str, object]:
        """The enrolment without its secret, for `status` and logs."""
        data = asdict(self)
        data.pop("agent_token")
        return data


def state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """--state-dir if given, else FOREWARN_AGENT_STATE_DIR, else /var/lib/forewarn-agent."""
    if explicit:
        return Path(explicit)
    from_env = os.environ.get(STATE_DIR_ENV, "").strip()
    return Path(from_env) if from_env else DEFAULT_STATE_DIR


def state_file(directory: Path) -> Path:
    return directory / STATE_FILE


def buffer_file(directory: Path) -> Path:
    return directory / BUFFER_FILE


def is_enrolled(directory: Path) -> bool:
    return state_file(directory).exists()


def load(directory: Path) -> Enrolment | None:
    """The enrolment kept in `directory`, or None when this agent was never enrolled."""
    path = state_file(directory)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        data = json.loads(raw)
        known = {f.name for f in fields(Enrolment)}
        return Enrolment(**{k: v for k, v in data.items() if k in known})
    except (ValueError, TypeError, AttributeError) as exc:
        raise StateError(f"{path} is not a valid agent state file: {exc}") from exc


def save(directory: Path, enrolment: Enrolment) -> None:
    """Write agent.json atomically with mode 0600, creating the directory (0700) if needed."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = json.dumps(asdict(enrolment), indent=2, sort_keys=True) + "\n"
    write_atomically(state_file(directory), body.encode("utf-8"), mode=0o600)


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` so that a crash leaves the old or the new file whole."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # O_EXCL with the final mode: the secret is never readable by others, not even briefly.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def forget(directory: Path) -> None:
    """Remove the enrolment and its buffer (for a forced re-enrolment)."""
    for name in (STATE_FILE, BUFFER_FILE, BUFFER_FILE + "-wal", BUFFER_FILE + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()
