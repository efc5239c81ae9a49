"""Scores: each safeguard 0-1 from machine evidence and/or answers, rolled up to controls,
NIST CSF 2.0 functions and an overall 0-100, each with its coverage.

Rules users can trust (reference/assessment.md, docs/assessment.md):
- a safeguard that does not apply is left out, never passed;
- unknown is never a pass: a rolled-up score is what was earned over the weight of every
  applicable safeguard, so an unknown one earns nothing, and coverage (the share of the
  weight that was evidenced) stands beside every score;
- a score with nothing evidenced at all is None ("unknown"), not 0 and not 100;
- each score says how much of it came from machines and how much from answers.
Pure: plain values in, plain values out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from forewarn.assess.catalog import CSF_NAMES, Catalog, Safeguard

MAX_LINES = 40  # evidence lines kept per safeguard; the rest are counted


@dataclass(frozen=True)
class Item:
    """One thing a machine showed: which device (or check), whether it meets the safeguard,
    what was seen and when."""

    subject: str
    ok: bool
    seen: str
    at: datetime | None = None

    def line(self) -> str:
        when = f" (as of {self.at:%Y-%m-%d %H:%M} UTC)" if self.at is not None else ""
        return f"{'ok' if self.ok else 'FAIL'}: {self.subject}: {self.seen}{when}"


@dataclass(frozen=True)
class MachineEvidence:
    items: tuple[Item, ...] = ()
    # Nothing the safeguard is about exists here (no servers for a server firewall rule).
    not_applicable: bool = False
    reason: str = ""

    @property
    def score(self) -> float | None:
        if not self.items:
            return None
        return sum(1 for i in self.items if i.ok) / len(self.items)


@dataclass(frozen=True)
class AnswerEvidence:
    value: float | None  # the mean of the answers that evidence it; None: only "unknown"
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class SafeguardScore:
    id: str
    title: str
    control: int
    csf: str
    evidence_class: str
    weight: float
    score: float | None  # 0..1; None: unknown
    source: str | None  # machine | answer | both | None
    machine: float | None
    answer: float | None
    evidence: tuple[str, ...] = ()

    @property
    def machine_weight(self) -> float:
        if self.score is None:
            return 0.0
        return {"machine": self.weight, "both": self.weight / 2}.get(self.source or "", 0.0)

    @property
    def answer_weight(self) -> float:
        if self.score is None:
            return 0.0
        return {"answer": self.weight, "both": self.weight / 2}.get(self.source or "", 0.0)


@dataclass(frozen=True)
class Rollup:
    key: str
    name: str
    score: float | None  # 0..100; None: nothing evidenced
    coverage: float  # 0..1: share of the applicable weight that was evidenced
    from_machines: float  # 0..1: share of the evidenced weight from machines
    from_answers: float
    safeguards: int
    evidenced: int
    failing: list[str] = field(default_factory=list)  # safeguard ids scored below 0.5


def _lines(items: Sequence[Item]) -> list[str]:
    ordered = sorted(items, key=lambda i: (i.ok, i.subject))  # failures first
    lines = [i.line() for i in ordered[:MAX_LINES]]
    if len(ordered) > MAX_LINES:
        lines.append(f"... and {len(ordered) - MAX_LINES} more")
    return lines


def score_safeguard(
    sg: Safeguard, machine: MachineEvidence | None, answer: AnswerEvidence | None
) -> SafeguardScore | None:
    """The safeguard's score; None when it does not apply here (left out of every roll-up)."""
    m = machine.score if machine is not None else None
    a = answer.value if answer is not None else None
    if machine is not None and machine.not_applicable and a is None:
        return None
    lines: list[str] = []
    if machine is not None:
        lines += _lines(machine.items)
        if machine.not_applicable and machine.reason:
            lines.append(f"not applicable to machines: {machine.reason}")
    if answer is not None:
        lines += list(answer.lines)
    if m is not None and a is not None:
        score, source = (m + a) / 2, "both"
    elif m is not None:
        score, source = m, "machine"
    elif a is not None:
        score, source = a, "answer"
    else:
        score, source = None, None
    return SafeguardScore(
        sg.id, sg.title, sg.control, sg.csf, sg.evidence, sg.weight, score, source, m, a,
        tuple(lines),
    )  # fmt: skip


def score_all(
    catalog: Catalog,
    machine: Mapping[str, MachineEvidence],
    answers: Mapping[str, AnswerEvidence],
) -> list[SafeguardScore]:
    out = []
    for sg in catalog.safeguards:
        s = score_safeguard(sg, machine.get(sg.id), answers.get(sg.id))
        if s is not None:
            out.append(s)
    return out


def rollup(key: str, name: str, scores: Iterable[SafeguardScore]) -> Rollup:
    scores = list(scores)
    total = sum(s.weight for s in scores)
    known = [s for s in scores if s.score is not None]
    evidenced = sum(s.weight for s in known)
    earned = sum(s.weight * (s.score or 0.0) for s in known)
    machine_w = sum(s.machine_weight for s in known)
    answer_w = sum(s.answer_weight for s in known)
    return Rollup(
        key=key,
        name=name,
        score=round(100 * earned / total, 1) if known and total > 0 else None,
        coverage=round(evidenced / total, 3) if total > 0 else 0.0,
        from_machines=round(machine_w / evidenced, 3) if evidenced > 0 else 0.0,
        from_answers=round(answer_w / evidenced, 3) if evidenced > 0 else 0.0,
        safeguards=len(scores),
        evidenced=len(known),
        failing=[s.id for s in known if (s.score or 0.0) < 0.5],
    )


def _grouped(
    scores: Sequence[SafeguardScore], key: Callable[[SafeguardScore], Any]
) -> dict[Any, list[SafeguardScore]]:
    groups: dict[Any, list[SafeguardScore]] = {}
    for s in scores:
        groups.setdefault(key(s), []).append(s)
    return groups


def by_control(catalog: Catalog, scores: Sequence[SafeguardScore]) -> list[Rollup]:
    groups = _grouped(scores, lambda s: s.control)
    return [rollup(str(c), catalog.controls[c], groups[c]) for c in sorted(groups)]


def by_function(scores: Sequence[SafeguardScore]) -> list[Rollup]:
    groups = _grouped(scores, lambda s: s.csf.split(".")[0])
    return [rollup(f, CSF_NAMES[f], groups[f]) for f in CSF_NAMES if f in groups]


def overall(scores: Sequence[SafeguardScore]) -> Rollup:
    return rollup("overall", "Overall", scores)


# ---- comparison with the previous snapshot ------------------------------------------------------


def compare(
    previous: Mapping[str, float | None],
    current: Mapping[str, float | None],
    previous_overall: float | None,
    current_overall: float | None,
    min_change: float = 0.01,
) -> dict[str, Any]:
    """What improved and what got worse, per safeguard (scores 0..1) and overall (0..100).
    A safeguard that became unknown (or known) is listed as such, never as a change in score."""
    improved: list[dict[str, Any]] = []
    worse: list[dict[str, Any]] = []
    now_unknown: list[str] = []
    now_known: list[dict[str, Any]] = []
    for sid in sorted(set(previous) | set(current), key=_sort_key):
        before, after = previous.get(sid), current.get(sid)
        if before is None and after is None:
            continue
        if before is not None and after is None:
            now_unknown.append(sid)
        elif before is None and after is not None:
            now_known.append({"id": sid, "score": after})
        elif before is not None and after is not None and abs(after - before) >= min_change:
            entry = {
                "id": sid,
                "before": before,
                "after": after,
                "change": round(after - before, 3),
            }
            (improved if after > before else worse).append(entry)
    delta = (
        round(current_overall - previous_overall, 1)
        if current_overall is not None and previous_overall is not None
        else None
    )
    return {
        "overall": {"before": previous_overall, "after": current_overall, "change": delta},
        "improved": improved,
        "worse": worse,
        "became_unknown": now_unknown,
        "newly_evidenced": now_known,
    }


def _sort_key(sid: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in sid.split("."))
