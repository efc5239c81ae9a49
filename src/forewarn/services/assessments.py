"""Assessments: run one for an organization, keep it as a dated snapshot, list and read them;
and the questionnaire answers they read.

A run reads what the platform knows (services.evidence) and the organization's answers,
scores them (assess.scoring), prices the risks (assess.risk), plans the work and the
replacements (assess.plans), compares with the organization's previous snapshot and stores
one canonical, versioned JSON document ("schema": "forewarn.assessment/2", docs/assessment.md).
An organization with no assets or no data gets no score: the document says so instead.
Snapshots of the first format ("forewarn.assessment/1", before the register) stay readable:
`readable` gives every document the sections the pages and the reports expect.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from forewarn.assess import plans, questionnaire, risk, scoring
from forewarn.assess.catalog import load as load_catalog
from forewarn.assess.money import downtime_cost
from forewarn.assess.questionnaire import Answer, QuestionnaireError
from forewarn.assess.scoring import AnswerEvidence, Rollup, SafeguardScore
from forewarn.domain.inventory import Role
from forewarn.reports import assessment as paper
from forewarn.services import audit, evidence
from forewarn.services.context import Context
from forewarn.services.errors import invalid
from forewarn.services.scope import SYSTEM, Actor, get_in_scope, get_org_in_scope
from forewarn.store.models import Assessment, AssessmentAnswer, Organization

SCHEMA_VERSION = 2
SCHEMA = f"forewarn.assessment/{SCHEMA_VERSION}"
SCHEMA_V1 = "forewarn.assessment/1"  # before the risk register and the plans: still read
# "What an 8-hour outage costs": the whole business down for a working day, with 12 hours of
# IT work to recover (reference/assessment.md's worked example): the figure owners grasp best.
OUTAGE_HOURS = 8.0
OUTAGE_IT_HOURS = 12.0
LIST_LIMIT = 200


# ---- what callers get --------------------------------------------------------------------------


class QuestionOut(BaseModel):
    id: str
    text: str
    safeguards: list[str]
    detail: str | None = Field(description="name or date: asked beside the answer")
    answer: str | None = Field(description="yes | partly | no | unknown; None: not answered")
    answer_detail: str = ""
    answered_by: str = ""
    answered_at: datetime | None = None


class QuestionnaireOut(BaseModel):
    org_id: int
    answered: int
    questions: list[QuestionOut]


class AnswersIn(BaseModel):
    """Answers by question id: "yes" | "partly" | "no" | "unknown", or
    {"answer": ..., "name": ...} / {"answer": ..., "date": "YYYY-MM-DD"}."""

    answers: dict[str, Any] = Field(max_length=500)


class AssessmentOut(BaseModel):
    id: int
    org_id: int
    created_at: datetime
    created_by: str
    version: int
    score: float | None = Field(description="overall 0-100; None: no score (see no_data)")
    coverage: float = Field(description="0-1: share of the applicable weight evidenced")
    no_data: bool
    scheduled_for: str | None


class AssessmentDetail(AssessmentOut):
    document: dict[str, Any]


class AssessmentList(BaseModel):
    items: list[AssessmentOut]


def _out(row: Assessment) -> AssessmentOut:
    return AssessmentOut(
        id=row.id,
        org_id=row.org_id,
        created_at=row.created_at,
        created_by=row.created_by,
        version=row.version,
        score=row.score,
        coverage=row.coverage,
        no_data=row.no_data,
        scheduled_for=row.scheduled_for,
    )


def canonical_json(document: dict[str, Any]) -> bytes:
    """The document as stored and downloaded: sorted keys, no spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ---- the questionnaire -------------------------------------------------------------------------


def _answer_rows(session: Session, org_id: int) -> dict[str, AssessmentAnswer]:
    rows = session.scalars(select(AssessmentAnswer).where(AssessmentAnswer.org_id == org_id))
    return {r.question_id: r for r in rows}


def questions(ctx: Context, actor: Actor, org_id: int) -> QuestionnaireOut:
    """The questions with the organization's current answers."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        rows = _answer_rows(session, org_id)
    out = []
    for q in questionnaire.load():
        row = rows.get(q.id)
        out.append(
            QuestionOut(
                id=q.id,
                text=q.text,
                safeguards=list(q.safeguards),
                detail=q.detail,
                answer=row.answer if row else None,
                answer_detail=row.detail if row else "",
                answered_by=row.answered_by if row else "",
                answered_at=row.answered_at if row else None,
            )
        )
    return QuestionnaireOut(org_id=org_id, answered=len(rows), questions=out)


def _refused(exc: QuestionnaireError) -> Exception:
    errors = [
        {"line": p.get("line"), "id": p.get("id", ""), "msg": p["msg"], "type": "answer"}
        for p in exc.problems
    ]
    return invalid(f"answers refused, nothing stored: {exc}", errors)


def save_answers(
    ctx: Context, actor: Actor, org_id: int, answers: list[Answer]
) -> QuestionnaireOut:
    """Keep the answers (each replacing the organization's earlier answer to its question),
    with who gave them and when. Technicians and above; recorded in the audit log."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
        rows = _answer_rows(session, org_id)
        for a in answers:
            row = rows.get(a.question_id)
            if row is None:
                row = AssessmentAnswer(org_id=org_id, question_id=a.question_id)
                session.add(row)
            row.answer, row.detail = a.answer, a.detail
            row.answered_by, row.answered_at = actor.username, now
        audit.record(
            session,
            ctx.clock,
            actor,
            "assessment.answers",
            entity="organization",
            entity_id=org_id,
            org_id=org_id,
            after={a.question_id: a.answer for a in answers},
        )
    return questions(ctx, actor, org_id)


def answer(ctx: Context, actor: Actor, org_id: int, data: AnswersIn) -> QuestionnaireOut:
    """Answers from the API or the form: all checked first; any problem refuses them all."""
    try:
        parsed = questionnaire.from_mapping(data.answers)
    except QuestionnaireError as exc:
        raise _refused(exc) from exc
    return save_answers(ctx, actor, org_id, parsed)


def import_answers(ctx: Context, actor: Actor, org_id: int, text: str | bytes) -> QuestionnaireOut:
    """An answers file (YAML, docs/assessment.md): refused whole with each problem named."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
    try:
        parsed = questionnaire.parse_answers(text)
    except QuestionnaireError as exc:
        raise _refused(exc) from exc
    return save_answers(ctx, actor, org_id, parsed)


# ---- the document ------------------------------------------------------------------------------


def _rollup(r: Rollup, no_data: bool) -> dict[str, Any]:
    out = asdict(r)
    if no_data:
        out["score"] = None
    return out


def _safeguard(s: SafeguardScore) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "control": s.control,
        "csf": s.csf,
        "evidence_class": s.evidence_class,
        "weight": s.weight,
        "score": None if s.score is None else round(s.score, 3),
        "source": s.source,
        "machine": None if s.machine is None else round(s.machine, 3),
        "answer": None if s.answer is None else round(s.answer, 3),
        "evidence": list(s.evidence),
    }


def _answer_evidence(rows: dict[str, AssessmentAnswer]) -> dict[str, AnswerEvidence]:
    known = questionnaire.by_id()
    answers = [Answer(r.question_id, r.answer, r.detail) for r in rows.values()]
    values = questionnaire.safeguard_values(answers)
    lines: dict[str, list[str]] = {}
    for r in rows.values():
        q = known.get(r.question_id)
        if q is None:
            continue
        detail = f" ({r.detail})" if r.detail else ""
        line = (
            f"answer: {q.text} -> {r.answer}{detail}, "
            f"by {r.answered_by or '?'} on {r.answered_at:%Y-%m-%d}"
        )
        for sid in q.safeguards:
            lines.setdefault(sid, []).append(line)
    return {sid: AnswerEvidence(v, tuple(lines.get(sid, ()))) for sid, v in values.items()}


def _message(ev: evidence.Evidence) -> str | None:
    if not ev.assets:
        return (
            "No assets recorded for this organization: there is nothing to assess, so no "
            "score is given. Add its devices and install the agent, then assess again."
        )
    if ev.no_data:
        return (
            f"{len(ev.assets)} asset(s) recorded but none has sent any data (no agent check-in,"
            " no check result): no score is given until they do."
        )
    return None


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, frozenset | set):
        return sorted(value)
    return value


def _cost(ev: evidence.Evidence) -> dict[str, Any]:
    out = {k: _jsonable(v) for k, v in asdict(ev.cost).items()}
    out["defaults"] = sorted(ev.cost.defaults)
    return out


def _previous(session: Session, org_id: int, before_id: int | None) -> Assessment | None:
    stmt = select(Assessment).where(Assessment.org_id == org_id)
    if before_id is not None:
        stmt = stmt.where(Assessment.id < before_id)
    return session.scalar(stmt.order_by(Assessment.id.desc()).limit(1))


def _risk_changes(
    before_doc: dict[str, Any], after_doc: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """Risks whose level changed, appeared or went away; None when the earlier snapshot had
    no register to compare with (format /1, or no data then or now)."""
    old, new = readable(before_doc)["risks"], after_doc["risks"]
    if old is None or new is None or before_doc.get("no_data") or after_doc.get("no_data"):
        return None
    before = {r["scenario"]: r for r in old["risks"]}
    after = {r["scenario"]: r for r in new["risks"]}
    rank = {str(level): i for i, level in enumerate(risk.LEVELS)}
    out = []
    for sid in sorted(set(before) | set(after)):
        b, a = before.get(sid), after.get(sid)
        if b is not None and a is not None and b["level"] == a["level"]:
            continue
        if b is None:
            direction = "new"
        elif a is None:
            direction = "gone"
        else:
            direction = "higher" if rank[a["level"]] > rank[b["level"]] else "lower"
        out.append(
            {
                "scenario": sid,
                "title": (a or b or {}).get("title", sid),
                "before": b["level"] if b else None,
                "after": a["level"] if a else None,
                "direction": direction,
            }
        )
    return out


def _comparison(previous: Assessment | None, document: dict[str, Any]) -> dict[str, Any] | None:
    if previous is None:
        return None
    before = {s["id"]: s["score"] for s in previous.document["scores"]["safeguards"]}
    after = {s["id"]: s["score"] for s in document["scores"]["safeguards"]}
    out = scoring.compare(before, after, previous.score, document["scores"]["overall"]["score"])
    out["previous"] = {"id": previous.id, "created_at": previous.created_at.isoformat()}
    out["risks"] = _risk_changes(previous.document, document)
    return out


def _outage(cost: Any) -> dict[str, Any]:
    """What a whole working day without IT costs (OUTAGE_HOURS, OUTAGE_IT_HOURS)."""
    out = downtime_cost(cost, OUTAGE_HOURS, it_hours=OUTAGE_IT_HOURS).to_json()
    out["it_hours"] = OUTAGE_IT_HOURS
    return out


def _register_and_plans(
    ev: evidence.Evidence, scores: dict[str, float | None], no_data: bool
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The risk register and the plans (docs/risk.md). The register and the 30/60/90-day
    plan share draws and seed (the plan measures each action against the register). With no
    data there is nothing to price: both are empty, the technology plan still reads the
    inventory's purchase dates."""
    today = ev.now.date()
    cost, counts = ev.cost, ev.risk_counts
    if no_data:
        reg = risk.Register(
            risks=(),
            skipped=(),
            currency=cost.currency,
            defaults=tuple(sorted(cost.defaults)),
            missing=("annual_revenue",) if cost.annual_revenue is None else (),
        )
        actions = plans.RemediationPlan((), plans.DEFAULT_HOURS_PER_MONTH, cost.currency, ())
    else:
        reg = risk.register(scores, ev.assets, cost, today, counts)
        actions = plans.remediation(reg, scores, ev.assets, cost, today, counts)
    technology = plans.technology_plan(ev.assets, cost, today)
    register = reg.to_json()
    register["counts"] = asdict(counts)
    return register, {"actions": actions.to_json(), "technology": technology.to_json()}


def build(
    ev: evidence.Evidence, rows: dict[str, AssessmentAnswer], org: Organization
) -> dict[str, Any]:
    """The document without its id, author and comparison (added when stored)."""
    catalog = load_catalog()
    scores = scoring.score_all(catalog, ev.machine if ev.assets else {}, _answer_evidence(rows))
    no_data = ev.no_data
    register, plan = _register_and_plans(ev, {s.id: s.score for s in scores}, no_data)
    return {
        "schema": SCHEMA,
        "org": {"id": org.id, "name": org.name, "slug": org.slug, "timezone": org.timezone},
        "as_of": ev.now.isoformat(),
        "no_data": no_data,
        "message": _message(ev),
        "catalog": {"name": "CIS Controls v8 IG1", "version": catalog.version},
        "inventory": ev.counts,
        "cost_inputs": _cost(ev),
        "outage": _outage(ev.cost),
        "assets": [{k: _jsonable(v) for k, v in asdict(a).items()} for a in ev.assets],
        "scores": {
            "overall": _rollup(scoring.overall(scores), no_data),
            "functions": [_rollup(r, no_data) for r in scoring.by_function(scores)],
            "controls": [_rollup(r, no_data) for r in scoring.by_control(catalog, scores)],
            "safeguards": [_safeguard(s) for s in scores],
        },
        "answers": [
            {
                "question_id": r.question_id,
                "answer": r.answer,
                "detail": r.detail,
                "answered_by": r.answered_by,
                "answered_at": r.answered_at.isoformat(),
            }
            for r in sorted(rows.values(), key=lambda r: r.question_id)
        ],
        "gaps": ev.gaps,
        "risks": register,
        "plan": plan,
    }


def readable(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every section of the current format, for the pages and reports:
    a first-format (/1) snapshot has no register, plans or outage figure; those read as
    None ("not in this snapshot"), never as an empty, reassuring register."""
    if document.get("schema") != SCHEMA_V1:
        return document
    out = dict(document)
    out["risks"] = None
    out["plan"] = None
    out["outage"] = None
    if out.get("comparison"):
        out["comparison"] = {**out["comparison"], "risks": None}
    return out


# ---- running, listing, reading -------------------------------------------------------------


def _store(
    session: Session, org: Organization, actor: Actor, now: datetime, scheduled_for: str | None
) -> Assessment:
    ev = evidence.gather(session, org.id, now)
    document = build(ev, _answer_rows(session, org.id), org)
    overall = document["scores"]["overall"]
    row = Assessment(
        org_id=org.id,
        created_at=now,
        created_by=actor.username,
        version=SCHEMA_VERSION,
        score=overall["score"],
        coverage=overall["coverage"],
        no_data=document["no_data"],
        scheduled_for=scheduled_for,
        document={},
    )
    session.add(row)
    session.flush()
    document["id"] = row.id
    document["created_at"] = now.isoformat()
    document["created_by"] = actor.username
    document["scheduled_for"] = scheduled_for
    document["comparison"] = _comparison(_previous(session, org.id, row.id), document)
    row.document = json.loads(canonical_json(document))
    return row


def run(ctx: Context, actor: Actor, org_id: int) -> AssessmentDetail:
    """Assess the organization now and keep the snapshot. Technicians and above."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        org = get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
        row = _store(session, org, actor, now, None)
        audit.record(
            session,
            ctx.clock,
            actor,
            "assessment.run",
            entity="assessment",
            entity_id=row.id,
            org_id=org_id,
            after={"score": row.score, "coverage": row.coverage, "no_data": row.no_data},
        )
        return AssessmentDetail(**_out(row).model_dump(), document=row.document)


def list_for_org(ctx: Context, actor: Actor, org_id: int) -> AssessmentList:
    """The organization's snapshots, newest first."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id)
        rows = session.scalars(
            select(Assessment)
            .where(Assessment.org_id == org_id)
            .order_by(Assessment.id.desc())
            .limit(LIST_LIMIT)
        )
        return AssessmentList(items=[_out(r) for r in rows])


def get(ctx: Context, actor: Actor, assessment_id: int) -> AssessmentDetail:
    with ctx.db.read() as session:
        row = get_in_scope(session, actor, Assessment, assessment_id)
        return AssessmentDetail(**_out(row).model_dump(), document=row.document)


# ---- the monthly run ---------------------------------------------------------------------------


def run_monthly(ctx: Context) -> int:
    """Assess every organization once per calendar month (UTC): a snapshot keyed by its
    month; the unique key makes a second run of the same month, in any process, a no-op."""
    now = ctx.clock.now()
    month = f"{now:%Y-%m}"
    with ctx.db.read() as session:
        done = set(
            session.scalars(select(Assessment.org_id).where(Assessment.scheduled_for == month))
        )
        org_ids = [i for i in session.scalars(select(Organization.id).order_by(Organization.id))]
    made = 0
    for org_id in org_ids:
        if org_id in done:
            continue
        try:
            with ctx.db.transaction() as session:
                org = session.get(Organization, org_id)
                if org is None:
                    continue
                _store(session, org, SYSTEM, now, month)
            made += 1
        except IntegrityError:  # another process made this month's snapshot first
            continue
    return made


# ---- documents ----------------------------------------------------------------------------------


def file_name(found: AssessmentOut, ext: str, kind: str = "assessment") -> str:
    """The download's name: forewarn-<org id>-assessment-<id>.pdf (or -summary-)."""
    return f"forewarn-{found.org_id}-{kind}-{found.id}.{ext}"


def html_of(ctx: Context, actor: Actor, assessment_id: int) -> tuple[AssessmentDetail, str]:
    """The snapshot and its full report as HTML, rendered from the stored document."""
    found = get(ctx, actor, assessment_id)
    return found, paper.html(readable(found.document))


def pdf_of(ctx: Context, actor: Actor, assessment_id: int) -> tuple[AssessmentDetail, bytes]:
    """The snapshot and its full report printed to PDF (A4) from the stored document."""
    found = get(ctx, actor, assessment_id)
    return found, paper.pdf(readable(found.document))


def summary_pdf_of(
    ctx: Context, actor: Actor, assessment_id: int
) -> tuple[AssessmentDetail, bytes]:
    """The snapshot and its one-page executive summary as PDF."""
    found = get(ctx, actor, assessment_id)
    return found, paper.summary_pdf(readable(found.document))
