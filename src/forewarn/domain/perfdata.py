"""Nagios plugin output: the first line's text and perfdata, in and out.

Perfdata items are `'label'=value[UOM];[warn];[crit];[min];[max]`, space separated; a label
with spaces is single-quoted (a quote inside doubled). A value of `U` means "not measured" and
is skipped; an item that cannot be read is skipped too and reported, never fatal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from forewarn.domain.observation import Metric

_VALUE = re.compile(r"^([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)([a-zA-Z%]*)$")


@dataclass(frozen=True, slots=True)
class PluginOutput:
    message: str
    details: str
    metrics: tuple[Metric, ...]
    unreadable: tuple[str, ...]  # perfdata items that could not be parsed


def parse_output(text: str) -> PluginOutput:
    """Split plugin output into message, long text and perfdata metrics."""
    lines = text.splitlines()
    first = lines[0] if lines else ""
    message, _, perf = first.partition("|")
    long_lines: list[str] = []
    perf_parts = [perf]
    in_perf = False
    for line in lines[1:]:
        if in_perf:
            perf_parts.append(line)
            continue
        head, sep, tail = line.partition("|")
        long_lines.append(head)
        if sep:
            in_perf = True
            perf_parts.append(tail)
    metrics, bad = parse_perfdata(" ".join(perf_parts))
    return PluginOutput(message.strip(), "\n".join(long_lines).strip(), metrics, bad)


def _items(text: str) -> list[str]:
    """Split on spaces, keeping single-quoted labels (with '' escapes) whole."""
    items: list[str] = []
    cur: list[str] = []
    quoted = False
    i = 0
    while i < len(text):
        c = text[i]
        if c == "'":
            if quoted and i + 1 < len(text) and text[i + 1] == "'":
                cur.append("''")
                i += 2
                continue
            quoted = not quoted
            cur.append(c)
        elif c.isspace() and not quoted:
            if cur:
                items.append("".join(cur))
                cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        items.append("".join(cur))
    return items


def parse_perfdata(text: str) -> tuple[tuple[Metric, ...], tuple[str, ...]]:
    metrics: list[Metric] = []
    bad: list[str] = []
    for item in _items(text):
        label, eq, rest = item.rpartition("=")
        if not eq or not label:
            bad.append(item)
            continue
        if label.startswith("'") and label.endswith("'") and len(label) >= 2:
            label = label[1:-1].replace("''", "'")
        fields = rest.split(";")
        if fields[0] == "U":
            continue
        m = _VALUE.match(fields[0])
        if not m:
            bad.append(item)
            continue
        fields += [""] * (5 - len(fields))
        try:
            metrics.append(
                Metric(
                    name=label,
                    value=float(m.group(1)),
                    unit=m.group(2),
                    warn=fields[1] or None,
                    crit=fields[2] or None,
                    min=float(fields[3]) if fields[3] else None,
                    max=float(fields[4]) if fields[4] else None,
                )
            )
        except ValueError:
            bad.append(item)
    return tuple(metrics), tuple(bad)


def _label(name: str) -> str:
    if any(c.isspace() or c in "'=" for c in name):
        return "'" + name.replace("'", "''") + "'"
    return name


def _num(v: float | None) -> str:
    """Shortest exact text: whole numbers as integers (byte counters beyond 10^12 stay exact),
    others as Python's shortest round-trip repr."""
    if v is None:
        return ""
    if v.is_integer() and abs(v) < 1e16:
        return str(int(v))
    return repr(v)


def format_perfdata(metrics: tuple[Metric, ...]) -> str:
    out = []
    for m in metrics:
        fields = [f"{_num(m.value)}{m.unit}", m.warn or "", m.crit or "", _num(m.min), _num(m.max)]
        while len(fields) > 1 and fields[-1] == "":
            fields.pop()
        out.append(f"{_label(m.name)}={';'.join(fields)}")
    return " ".join(out)
