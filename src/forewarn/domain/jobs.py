"""Signed jobs: the envelope the server signs and the agent verifies (docs/jobs.md).

Both sides share this module (the agent imports only domain/). The signature covers the
exact bytes of the canonical JSON (sorted keys, no spaces, ASCII only); the server sends
those bytes as a string beside the signature, so the agent never has to re-create them and
a parser's whims cannot make a valid job look altered, or an altered one valid.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

KINDS = ("script", "restart_service", "reboot", "install_updates")
STATES = ("queued", "sent", "running", "succeeded", "failed", "refused", "timed_out")
FINAL_STATES = frozenset({"succeeded", "failed", "refused", "timed_out"})
RESULT_STATES = ("succeeded", "failed", "refused", "timed_out")
MAX_OUTPUT = 64 * 1024  # bytes of a job's output kept and sent (the tail beyond is cut)
MAX_ENVELOPE = 256 * 1024
DEFAULT_TIMEOUT = 300
MAX_TIMEOUT = 3600
INSTALL_TIMEOUT = 1800
MAX_PACKAGES = 200
# Debian policy 5.6.1 and 5.6.12 (an optional :arch after the name, as apt accepts): a name
# starts with a letter or digit and a version with a digit, so neither can be an option.
PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]{1,127}(?::[a-z0-9][a-z0-9-]{0,31})?")
PACKAGE_VERSION = re.compile(r"(?:[0-9]{1,9}:)?[0-9][A-Za-z0-9.+~-]{0,126}")
# The package managers an install_updates job can name; a payload without one is apt's.
MANAGERS = ("apt", "dnf")
# RPM's grammar: a name of letters, digits and "-._+" that never starts with "-"; a version
# "[epoch:]version-release", each part of letters, digits and "._+~^" starting with a letter
# or digit (so no "-" or glob character inside either); an arch of letters, digits and "_"
# (x86_64, noarch, aarch64), as dnf check-update prints it after the name's last dot.
RPM_NAME = re.compile(r"[A-Za-z0-9._+][A-Za-z0-9._+-]{0,127}")
RPM_VERSION = re.compile(
    r"(?:[0-9]{1,10}:)?[A-Za-z0-9][A-Za-z0-9._+~^]{0,63}-[A-Za-z0-9][A-Za-z0-9._+~^]{0,63}"
)
RPM_ARCH = re.compile(r"[A-Za-z0-9_]{1,32}")


@dataclass(frozen=True)
class Envelope:
    """What the server promises: run `kind` with `payload` on this agent, once, in time."""

    id: int
    asset_id: int
    agent_id: int
    kind: str
    payload: dict[str, Any]
    issued_at: int  # epoch seconds: integers, so the canonical bytes never depend on floats
    not_after: int
    nonce: str


def canonical(envelope: Envelope) -> bytes:
    """The bytes that are signed: sorted-key compact ASCII JSON."""
    return json.dumps(
        asdict(envelope), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    ).encode("ascii")


def parse(raw: str) -> Envelope:
    """The envelope of verified bytes; ValueError when its shape is wrong."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("the envelope is not an object")
    try:
        env = Envelope(**data)
    except TypeError as exc:
        raise ValueError(f"the envelope's fields are wrong: {exc}") from exc
    ints = (env.id, env.asset_id, env.agent_id, env.issued_at, env.not_after)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
        raise ValueError("the envelope's ids and times must be integers")
    if env.kind not in KINDS or not isinstance(env.payload, dict):
        raise ValueError(f"unknown job kind {env.kind!r}")
    return env


def bound_output(data: bytes, limit: int = MAX_OUTPUT) -> tuple[str, bool]:
    """(text, cut): the last `limit` bytes of the output, decoded leniently.

    The tail is kept rather than the head: a failing script says why at its end.
    """
    cut = len(data) > limit
    if cut:
        data = data[-limit:]
    text = data.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    # Replacement characters can make the text longer in bytes than the limit.
    while len(text.encode("utf-8")) > limit:
        text = text[len(text) // 10 + 1 :]
        cut = True
    return text, cut


def install_manager(payload: dict[str, Any]) -> str:
    """The package manager an install_updates payload names: "apt" when it names none (the
    jobs issued before dnf existed), ValueError for one not in MANAGERS."""
    manager = payload.get("manager", "apt")
    if manager not in MANAGERS:
        raise ValueError(f"unknown package manager {manager!r:.40}")
    return str(manager)


def install_targets(payload: dict[str, Any]) -> list[str]:
    """The package manager's arguments for an install_updates payload.

    The payload is {"manager": "apt" | "dnf" (apt when absent), "packages": [...]}. apt's
    packages are {"name", "version"?} and become "name" or "name=version"; dnf's are
    {"name", "version"?, "arch"?} and become "name-[epoch:]version-release[.arch]" (dnf's
    NEVRA: that exact build). Anything else, a name, version or arch outside the manager's
    grammar (so never an option or a shell word), a duplicate, none or more than MAX_PACKAGES
    is a ValueError: the whole job is refused, nothing runs.
    """
    manager = install_manager(payload)
    packages = payload.get("packages")
    if not isinstance(packages, list) or not packages:
        raise ValueError("install_updates needs a non-empty list of packages")
    if len(packages) > MAX_PACKAGES:
        raise ValueError(f"{len(packages)} packages, at most {MAX_PACKAGES} in one job")
    one = _apt_target if manager == "apt" else _dnf_target
    targets: list[str] = []
    seen: set[tuple[str, str]] = set()
    for item in packages:
        target, key = one(item)
        if key in seen:
            raise ValueError(f"{key[0]} is listed twice")
        seen.add(key)
        targets.append(target)
    return targets


def _apt_target(item: object) -> tuple[str, tuple[str, str]]:
    if not isinstance(item, dict) or not set(item) <= {"name", "version"}:
        raise ValueError(f"a package must be {{name, version?}}: {item!r:.80}")
    name, version = item.get("name"), item.get("version")
    if not isinstance(name, str) or not PACKAGE_NAME.fullmatch(name):
        raise ValueError(f"not a Debian package name: {name!r:.80}")
    if version is not None and (
        not isinstance(version, str) or not PACKAGE_VERSION.fullmatch(version)
    ):
        raise ValueError(f"not a Debian version: {version!r:.80}")
    return (name if version is None else f"{name}={version}"), (name, "")


def _dnf_target(item: object) -> tuple[str, tuple[str, str]]:
    if not isinstance(item, dict) or not set(item) <= {"name", "version", "arch"}:
        raise ValueError(f"a package must be {{name, version?, arch?}}: {item!r:.80}")
    name, version, arch = item.get("name"), item.get("version"), item.get("arch")
    if not isinstance(name, str) or not RPM_NAME.fullmatch(name):
        raise ValueError(f"not an RPM package name: {name!r:.80}")
    if version is not None and (not isinstance(version, str) or not RPM_VERSION.fullmatch(version)):
        raise ValueError(f"not an RPM [epoch:]version-release: {version!r:.80}")
    if arch is not None and (not isinstance(arch, str) or not RPM_ARCH.fullmatch(arch)):
        raise ValueError(f"not an RPM architecture: {arch!r:.80}")
    target = name if version is None else f"{name}-{version}"
    return (target if arch is None else f"{target}.{arch}"), (name, arch or "")
