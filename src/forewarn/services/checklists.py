"""Checklists started as tickets: a template (assess.plans, shipped in
data/assessment/checklists.yml) filled in for an organization becomes ONE ticket
"Onboard: <name>" whose steps are ticked on it (docs/checklists.md).

Why one ticket with its steps rather than a child ticket per step: a ticket carries SLA timers
(services.tickets.sla_watch raises an alert per late ticket), counts in the month's figures and
has no parent in the model; nine children would mean nine timers, nine tickets in the report
and a new relation. One ticket keeps one timer and one line in the report, and each tick is an
event of its timeline ("step_done" / "step_undone"), so who did what and when is kept the same
way as everything else on a ticket. The steps are copied when the checklist starts, with their
CIS safeguard ids, so the assessment can count finished ones (`completed`).

Templates: the provider-wide ones shipped in the YAML, and an organization's own, imported as
one YAML file in the same format (validated whole with each problem named; nothing stored when
refused; importing again replaces them; their ids may not take a provider-wide one's).

Who may do what: technicians start any checklist and import an organization's templates; a
client's own staff (viewers) start the templates marked `clients: true` (a new hire, a
leaver), as they may report a problem; technicians tick steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forewarn.assess.plans import Checklist, ChecklistError, load_checklists, parse_checklists
from forewarn.domain.inventory import Role
from forewarn.domain.tickets import Origin, Priority, TicketStatus
from forewarn.services import audit, tickets
from forewarn.services.context import Context
from forewarn.services.errors import ServiceError, invalid, not_found
from forewarn.services.schemas import MAX_ID
from forewarn.services.scope import Actor, get_in_scope, get_org_in_scope, require, scoped
from forewarn.store.models import (
    Asset,
    OrgChecklists,
    Ticket,
    TicketChecklist,
    TicketChecklistStep,
)

VALUE_MAX = 200  # a parameter's text
# PostgreSQL cannot store NUL in text: refused at the edge on both engines (as schemas.Strict).
ParameterId = Annotated[str, StringConstraints(max_length=40, pattern=r"^[^\x00]*$")]
ParameterValue = Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")]

# ---- shapes -----------------------------------------------------------------------------------


class ParameterOut(BaseModel):
    id: str
    label: str
    kind: str = Field(description="text; date (YYYY-MM-DD); asset (an asset id of the org)")
    required: bool


class StepOut(BaseModel):
    title: str
    detail: str
    safeguards: list[str] = Field(description="CIS Controls v8 IG1 safeguard ids")


class TemplateOut(BaseModel):
    id: str
    title: str
    description: str
    clients: bool = Field(description="a client's own staff (viewers) may start it")
    source: str = Field("provider", description="provider (shipped) or organization (imported)")
    parameters: list[ParameterOut]
    steps: list[StepOut]


class ChecklistStart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[ParameterId, ParameterValue | int] = Field(
        default_factory=dict,
        max_length=20,
        description="the template's parameters by id; an asset parameter takes an asset id",
    )
    priority: Priority = Priority.NORMAL


class StepTick(BaseModel):
    model_config = ConfigDict(extra="forbid")

    done: bool


def _template_out(c: Checklist, source: str = "provider") -> TemplateOut:
    return TemplateOut(
        id=c.id,
        title=c.title,
        description=c.description,
        clients=c.clients,
        source=source,
        parameters=[ParameterOut(**p.to_json()) for p in c.parameters],
        steps=[StepOut(**s.to_json()) for s in c.steps],
    )


# ---- the templates ------------------------------------------------------------------------------


def _templates() -> dict[str, Checklist]:
    return {c.id: c for c in load_checklists()}


def all_templates() -> list[Checklist]:
    """The provider-wide templates, in the file's order."""
    return list(_templates().values())


def own_templates(session: Session, org_id: int) -> list[Checklist]:
    """An organization's own templates (none until it imports some)."""
    row = session.get(OrgChecklists, org_id)
    return list(parse_checklists(row.body)) if row is not None else []


def templates(ctx: Context, actor: Actor, org_id: int) -> list[TemplateOut]:
    """The templates an organization may start, the provider-wide ones first, for anyone who
    sees it."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        own = own_templates(session, org_id)
    return [_template_out(c) for c in all_templates()] + [
        _template_out(c, "organization") for c in own
    ]


def startable(ctx: Context, actor: Actor, org_id: int) -> list[Checklist]:
    """The templates this person may start here: all for technicians, those marked for
    clients (a new hire, a leaver) for the organization's own staff."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        found = all_templates() + own_templates(session, org_id)
    tech = actor.can(org_id, Role.TECHNICIAN)
    return [c for c in found if tech or c.clients]


def template(session: Session, org_id: int, template_id: str) -> Checklist:
    """A provider-wide template or one of the organization's own, by id; 404 naming those
    there are."""
    found = {c.id: c for c in all_templates() + own_templates(session, org_id)}
    if template_id not in found:
        known = ", ".join(found)
        detail = f"no checklist template {template_id[:40]!r} here (there are: {known})"
        raise ServiceError(detail, status=404, title="Not found")
    return found[template_id]


def _may_start(session: Session, actor: Actor, org_id: int, template_id: str) -> Checklist:
    get_org_in_scope(session, actor, org_id, Role.VIEWER)
    checklist = template(session, org_id, template_id)
    if not checklist.clients:
        require(actor, org_id, Role.TECHNICIAN)
    return checklist


def choose(ctx: Context, actor: Actor, org_id: int, template_id: str) -> Checklist:
    """The template to start, if this person may start it here (404 unknown, 403 not theirs)."""
    with ctx.db.read() as session:
        return _may_start(session, actor, org_id, template_id)


def import_templates(
    ctx: Context, actor: Actor, org_id: int, text: str | bytes
) -> list[TemplateOut]:
    """Replace the organization's own templates with a YAML file (technicians): checked whole,
    refused with each problem named and nothing stored."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        get_org_in_scope(session, actor, org_id, Role.TECHNICIAN)
        try:
            body = text.decode("utf-8") if isinstance(text, bytes) else text
        except UnicodeDecodeError:
            raise invalid("templates refused, nothing stored: the file is not UTF-8") from None
        try:
            parsed = parse_checklists(body, reserved={c.id for c in all_templates()})
        except ChecklistError as exc:
            errors = [{"loc": ["body"], "msg": p, "type": "checklist"} for p in exc.problems]
            raise invalid(f"templates refused, nothing stored: {exc}", errors) from None
        row = session.get(OrgChecklists, org_id)
        if row is None:
            row = OrgChecklists(org_id=org_id, body=body, updated_at=now, updated_by="")
            session.add(row)
        row.body, row.updated_at, row.updated_by = body, now, actor.username
        audit.record(
            session,
            ctx.clock,
            actor,
            "checklist.import",
            entity="organization",
            entity_id=org_id,
            org_id=org_id,
            after={"templates": [c.id for c in parsed]},
        )
    return [_template_out(c, "organization") for c in parsed]


def own_file(ctx: Context, actor: Actor, org_id: int) -> str:
    """The organization's own templates as imported ("" when none)."""
    with ctx.db.read() as session:
        get_org_in_scope(session, actor, org_id, Role.VIEWER)
        row = session.get(OrgChecklists, org_id)
        return row.body if row is not None else ""


# ---- starting one -------------------------------------------------------------------------------


def _value(
    session: Session, org_id: int, kind: str, raw: str | int, problems: list[tuple[str, str]]
) -> tuple[str | int, str] | None:
    """(what is stored, what is shown) for one filled parameter, or None with a problem."""
    if kind == "asset":
        text = str(raw).strip()
        if not text.isdigit() or not 0 < int(text) <= MAX_ID:
            problems.append(("must be the id of an asset of the organization", text))
            return None
        asset = session.get(Asset, int(text))
        if asset is None or asset.org_id != org_id:
            problems.append(("no such asset in this organization", text))
            return None
        return asset.id, asset.name
    if not isinstance(raw, str):
        problems.append(("must be text", str(raw)))
        return None
    text = " ".join(raw.split())
    if len(text) > VALUE_MAX:
        problems.append((f"longer than {VALUE_MAX} characters", ""))
        return None
    if kind == "date" and text:
        try:
            return date.fromisoformat(text).isoformat(), text
        except ValueError:
            problems.append(("must be a date as YYYY-MM-DD", text))
            return None
    return text, text


def _fill(
    session: Session, org_id: int, checklist: Checklist, given: dict[str, str | int]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The parameters to store and to show; every problem named at once (422), else nothing
    is stored."""
    errors: list[dict[str, Any]] = []

    def problem(pid: str, msg: str) -> None:
        errors.append({"loc": ["body", "parameters", pid], "msg": msg})

    known = {p.id for p in checklist.parameters}
    for pid in sorted(set(given) - known):
        problem(pid, f"not a parameter of {checklist.id} (it takes: {', '.join(known) or 'none'})")
    stored: dict[str, Any] = {}
    shown: dict[str, str] = {}
    for p in checklist.parameters:
        raw = given.get(p.id)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if p.required:
                problem(p.id, f"required: {p.label}")
            continue
        said: list[tuple[str, str]] = []
        value = _value(session, org_id, p.kind, raw, said)
        for msg, _ in said:
            problem(p.id, msg)
        if value is not None:
            stored[p.id], shown[p.id] = value
    if errors:
        summary = "; ".join(f"{e['loc'][-1]}: {e['msg']}" for e in errors)
        raise invalid(f"the checklist was not started: {summary}", errors)
    return stored, shown


def _description(checklist: Checklist, shown: dict[str, str]) -> str:
    lines = [f"Checklist: {checklist.title}."]
    if checklist.description:
        lines.append(checklist.description)
    for p in checklist.parameters:
        if p.id in shown:
            lines.append(f"{p.label}: {shown[p.id]}")
    lines.append(f"{len(checklist.steps)} steps, ticked on this ticket.")
    return "\n".join(lines)


def start(
    ctx: Context, actor: Actor, org_id: int, template_id: str, data: ChecklistStart
) -> tickets.TicketDetail:
    """One ticket "Onboard: <name>" with the template's steps, none done yet."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        checklist = _may_start(session, actor, org_id, template_id)
        stored, shown = _fill(session, org_id, checklist, data.parameters)
        t = tickets.open_ticket(
            session,
            now,
            org_id=org_id,
            title=checklist.ticket_title(shown),
            description=_description(checklist, shown),
            priority=data.priority,
            origin=Origin.CHECKLIST,
            reporter=actor.username,
        )
        session.add(
            TicketChecklist(
                ticket_id=t.id,
                org_id=org_id,
                template=checklist.id,
                title=checklist.title,
                parameters=stored,
                started_at=now,
            )
        )
        session.flush()
        for position, step in enumerate(checklist.steps, start=1):
            session.add(
                TicketChecklistStep(
                    ticket_id=t.id,
                    position=position,
                    title=step.title,
                    detail=step.detail,
                    safeguards=list(step.safeguards),
                    done_by="",
                )
            )
        detail = f"{checklist.title}: {len(checklist.steps)} steps"
        tickets._event(session, t, now, actor.username, "checklist", detail)
        audit.record(
            session,
            ctx.clock,
            actor,
            "checklist.start",
            entity="ticket",
            entity_id=t.id,
            org_id=org_id,
            after={"template": checklist.id, "parameters": stored},
        )
        session.flush()
        return tickets._detail(session, t, now)


# ---- ticking steps ------------------------------------------------------------------------------


def tick(
    ctx: Context, actor: Actor, ticket_id: int, position: int, data: StepTick
) -> tickets.TicketDetail:
    """Mark a step done or not done (technicians); the same state again changes nothing."""
    now = ctx.clock.now()
    with ctx.db.transaction() as session:
        t = get_in_scope(session, actor, Ticket, ticket_id, Role.TECHNICIAN)
        if session.get(TicketChecklist, t.id) is None:
            raise not_found("checklist on this ticket")
        step = session.get(TicketChecklistStep, (t.id, position))
        if step is None:
            raise not_found(f"step {position}")
        if t.status == TicketStatus.CLOSED.value:
            raise invalid("this ticket is closed: its checklist is final")
        if data.done == (step.done_at is not None):
            return tickets._detail(session, t, now)
        step.done_at, step.done_by = (now, actor.username) if data.done else (None, "")
        session.flush()
        done, total = _progress(session, t.id)
        kind = "step_done" if data.done else "step_undone"
        said = f"{position}. {step.title} ({done} of {total} done)"
        tickets._event(session, t, now, actor.username, kind, said)
        tickets._responded(t, actor, now)
        t.updated_at = now
        return tickets._detail(session, t, now)


def _progress(session: Session, ticket_id: int) -> tuple[int, int]:
    row = session.execute(
        select(func.count(TicketChecklistStep.done_at), func.count()).where(
            TicketChecklistStep.ticket_id == ticket_id
        )
    ).one()
    return int(row[0]), int(row[1])


# ---- on the ticket, and for the assessment ------------------------------------------------------


def state_of(session: Session, ticket_id: int) -> tickets.ChecklistState | None:
    """A ticket's checklist with each step's state, None for a ticket without one."""
    row = session.get(TicketChecklist, ticket_id)
    if row is None:
        return None
    steps = session.scalars(
        select(TicketChecklistStep)
        .where(TicketChecklistStep.ticket_id == ticket_id)
        .order_by(TicketChecklistStep.position)
    ).all()
    return tickets.ChecklistState(
        template=row.template,
        title=row.title,
        parameters=dict(row.parameters or {}),
        done=sum(1 for s in steps if s.done_at is not None),
        total=len(steps),
        steps=[tickets.StepState.model_validate(s) for s in steps],
    )


def progress(ctx: Context, actor: Actor, ticket_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(done, total) of each ticket's checklist, for the tickets the actor sees that have one:
    one query for a page of the list."""
    if not ticket_ids:
        return {}
    stmt = (
        select(
            TicketChecklistStep.ticket_id,
            func.count(TicketChecklistStep.done_at),
            func.count(),
        )
        .join(TicketChecklist, TicketChecklist.ticket_id == TicketChecklistStep.ticket_id)
        .where(TicketChecklistStep.ticket_id.in_(ticket_ids[:500]))
        .group_by(TicketChecklistStep.ticket_id)
    )
    with ctx.db.read() as session:
        rows = session.execute(scoped(stmt, actor, TicketChecklist.org_id)).all()
    return {ticket_id: (int(done), int(total)) for ticket_id, done, total in rows}


@dataclass(frozen=True)
class Progress:
    ticket_id: int
    title: str  # the ticket's, e.g. "Onboard: Sam Smith (leaver)"
    started_at: datetime
    done: int
    steps: int


def started_since(
    session: Session, org_id: int, template_id: str, since: datetime
) -> list[Progress]:
    """Each checklist of a template the organization started since `since`, with how many of
    its steps are done: e.g. leavers whose access was revoked (safeguard 6.2), for the
    assessment."""
    rows = session.execute(
        select(
            TicketChecklist.ticket_id,
            Ticket.title,
            TicketChecklist.started_at,
            func.count(TicketChecklistStep.done_at),
            func.count(TicketChecklistStep.position),
        )
        .join(Ticket, Ticket.id == TicketChecklist.ticket_id)
        .outerjoin(TicketChecklistStep, TicketChecklistStep.ticket_id == TicketChecklist.ticket_id)
        .where(
            TicketChecklist.org_id == org_id,
            TicketChecklist.template == template_id,
            TicketChecklist.started_at >= since,
        )
        .group_by(TicketChecklist.ticket_id, Ticket.title, TicketChecklist.started_at)
        .order_by(TicketChecklist.started_at, TicketChecklist.ticket_id)
    ).all()
    return [Progress(int(t), title, at, int(done), int(n)) for t, title, at, done, n in rows]


def completed(session: Session, org_id: int, template_id: str, since: datetime) -> int:
    """How many checklists of a template started since `since` have every step done."""
    return sum(1 for p in started_since(session, org_id, template_id, since) if p.done == p.steps)
