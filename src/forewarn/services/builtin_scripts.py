"""The ready-made maintenance tasks shipped in data/scripts, kept in the library as the
provider's scripts (every organization sees them; docs/automation.md).

Each file is a bash script whose header says what it is:

    # name: clean-temp-files
    # description: one line for the library page
    # timeout: 900
    # param: DAYS=7 | what the parameter means

`install` (at every start of the API role) adds the missing ones and brings the shipped ones
up to date; a built-in's name belongs to it. They follow the plugin exit codes: 0 done or
healthy, 1 warning, 2 critical, 3 unknown (a tool missing, a bad parameter).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from sqlalchemy import select

from forewarn.services.context import Context
from forewarn.store.models import Script

_HEADER = re.compile(r"^# (name|description|timeout|param): ?(.*)$")
_PARAM = re.compile(r"^([A-Z_][A-Z0-9_]{0,63})=([^|]*?)\s*(?:\|\s*(.*))?$")


@dataclass(frozen=True)
class Builtin:
    name: str
    description: str
    body: str
    parameters: tuple[dict[str, str], ...]
    timeout_s: int


def parse(body: str) -> Builtin:
    """A shipped script's header; ValueError when it lacks a name or a parameter is malformed."""
    fields: dict[str, str] = {}
    params: list[dict[str, str]] = []
    for line in body.splitlines()[1:]:
        m = _HEADER.match(line)
        if m is None:
            break
        key, value = m.groups()
        if key == "param":
            p = _PARAM.match(value)
            if p is None:
                raise ValueError(f"bad parameter line: {value!r}")
            params.append(
                {"name": p.group(1), "default": p.group(2).strip(), "description": p.group(3) or ""}
            )
        else:
            fields[key] = value.strip()
    if not fields.get("name"):
        raise ValueError("a shipped script needs a '# name:' line")
    return Builtin(
        name=fields["name"],
        description=fields.get("description", ""),
        body=body,
        parameters=tuple(params),
        timeout_s=int(fields.get("timeout", "300")),
    )


@lru_cache(maxsize=1)
def builtin() -> tuple[Builtin, ...]:
    """The shipped tasks, parsed once (a broken one is a bug: the tests parse them)."""
    folder = resources.files("forewarn.data") / "scripts"
    return tuple(
        parse(item.read_text("utf-8"))
        for item in sorted(folder.iterdir(), key=lambda i: i.name)
        if item.name.endswith(".sh")
    )


def install(ctx: Context) -> int:
    """Add or update the built-ins among the provider's scripts; how many changed."""
    changed = 0
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        existing = {
            s.name: s for s in session.scalars(select(Script).where(Script.org_id.is_(None)))
        }
        for b in builtin():
            want = {
                "description": b.description,
                "language": "bash",
                "body": b.body,
                "parameters": [dict(p) for p in b.parameters],
                "timeout_s": b.timeout_s,
            }
            row = existing.get(b.name)
            if row is None:
                session.add(
                    Script(org_id=None, name=b.name, created_at=now, updated_at=now, **want)
                )
                changed += 1
            elif any(getattr(row, k) != v for k, v in want.items()):
                for k, v in want.items():
                    setattr(row, k, v)
                row.updated_at = now
                changed += 1
    return changed
