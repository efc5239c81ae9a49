"""Assessments: an organization's snapshots with a Run button for technicians
(/orgs/{id}/assessments), one snapshot's scores with coverage, risks, plans, gaps and the
comparison (/assessments/{id}), its JSON, report (HTML, PDF) and executive summary (PDF),
and the guided questionnaire (/orgs/{id}/questionnaire)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from forewarn.assess.questionnaire import CHOICES
from forewarn.domain import health
from forewarn.domain.inventory import Role
from forewarn.reports import assessment as paper
from forewarn.reports import download as headers_of
from forewarn.reports import formatting
from forewarn.services import assessments, orgs
from forewarn.services.errors import ServiceError, not_found
from forewarn.web.flash import add_flash
from forewarn.web.forms import FORM_WIDE, FieldErrors, text
from forewarn.web.render import page, see_other
from forewarn.web.session import PostedForm, SignedIn, WebId, get_ctx

router = APIRouter(include_in_schema=False)


def score_state(score: float | None) -> str:
    """The palette state of a 0-100 score: the health score's bands; unknown without one."""
    return "unknown" if score is None else health.band(score)[0]


@router.get("/orgs/{org_id}/assessments")
def list_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    return page(
        request,
        "assessments/list.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        found=assessments.list_for_org(ctx, actor, org_id).items,
        answered=assessments.questions(ctx, actor, org_id).answered,
        score_state=score_state,
        may_run=actor.can(org_id, Role.TECHNICIAN),
    )


@router.post("/orgs/{org_id}/assessments")
def run(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Assess now (technicians) and show the new snapshot."""
    done = assessments.run(get_ctx(request), user.actor, org_id)
    return see_other(f"/assessments/{done.id}")


@router.get("/assessments/{assessment_id}")
def detail_page(request: Request, assessment_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    found = assessments.get(ctx, actor, assessment_id)
    org = orgs.get(ctx, actor, found.org_id)
    return page(
        request,
        "assessments/detail.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        a=found,
        doc=(doc := assessments.readable(found.document)),
        v=paper.view(doc),
        score_state=score_state,
        period_words=paper.PERIOD_WORDS,
        action_words=paper.ACTION_WORDS,
        cost_words=paper.COST_WORDS,
        report_money=formatting.money,
        mark=paper.DEFAULT_MARK,
    )


@router.get("/assessments/{assessment_id}/download")
def download(request: Request, assessment_id: WebId, user: SignedIn) -> Response:
    found = assessments.get(get_ctx(request), user.actor, assessment_id)
    name = f"assessment-{found.org_id}-{found.id}.json"
    return Response(
        assessments.canonical_json(found.document),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/assessments/{assessment_id}/{fmt}")
def download_document(request: Request, assessment_id: WebId, fmt: str, user: SignedIn) -> Response:
    """The report as HTML or PDF, or the executive summary as PDF, rendered from the JSON."""
    ctx, actor = get_ctx(request), user.actor
    content: bytes | str
    if fmt == "pdf":
        found, content = assessments.pdf_of(ctx, actor, assessment_id)
        name = assessments.file_name(found, "pdf")
    elif fmt == "summary.pdf":
        found, content = assessments.summary_pdf_of(ctx, actor, assessment_id)
        name = assessments.file_name(found, "pdf", "summary")
    elif fmt == "html":
        found, content = assessments.html_of(ctx, actor, assessment_id)
        name = assessments.file_name(found, "html")
    else:
        raise not_found("download")
    ext = name.rsplit(".", 1)[1]
    return Response(
        content, media_type=headers_of.MEDIA_TYPES[ext], headers=headers_of.headers(name)
    )


def _by_question(exc: ServiceError) -> FieldErrors:
    """The refusal's problems beside their questions, and one line above the form."""
    errors: FieldErrors = {
        FORM_WIDE: ["Nothing was kept: please correct the answers marked below."]
    }
    for problem in exc.errors:
        errors.setdefault(str(problem.get("id") or FORM_WIDE), []).append(str(problem["msg"]))
    return errors


@router.get("/orgs/{org_id}/questionnaire")
def questionnaire_page(request: Request, org_id: WebId, user: SignedIn) -> Response:
    ctx, actor = get_ctx(request), user.actor
    org = orgs.get(ctx, actor, org_id)
    return page(
        request,
        "assessments/questionnaire.html",
        user,
        section="overview",
        org=org,
        tz=org.timezone,
        q=assessments.questions(ctx, actor, org_id),
        choices=CHOICES,
        may_answer=actor.can(org_id, Role.TECHNICIAN),
        errors={},
        typed={},
    )


@router.post("/orgs/{org_id}/questionnaire")
def answer(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Keep the answers given (questions left blank stay as they were); a wrong one refuses
    them all and the form comes back with what was typed and each problem named."""
    ctx, actor = get_ctx(request), user.actor
    current = assessments.questions(ctx, actor, org_id)
    given: dict[str, object] = {}
    for question in current.questions:
        choice = text(form, f"answer-{question.id}")
        if not choice:
            continue
        detail = text(form, f"detail-{question.id}")
        given[question.id] = (
            {"answer": choice, question.detail: detail} if question.detail and detail else choice
        )
    if not given:
        response = see_other(f"/orgs/{org_id}/questionnaire")
        add_flash(ctx, response, "Nothing to keep: no question was answered.", "warning")
        return response
    try:
        done = assessments.answer(ctx, actor, org_id, assessments.AnswersIn(answers=given))
    except ServiceError as exc:
        if exc.status != 422:
            raise
        org = orgs.get(ctx, actor, org_id)
        typed = {k: (v if isinstance(v, dict) else {"answer": v}) for k, v in given.items()}
        return page(
            request,
            "assessments/questionnaire.html",
            user,
            status=422,
            section="overview",
            org=org,
            tz=org.timezone,
            q=current,
            choices=CHOICES,
            may_answer=True,
            errors=_by_question(exc),
            typed=typed,
        )
    response = see_other(f"/orgs/{org_id}/assessments")
    add_flash(ctx, response, f"Answers kept: {done.answered} of {len(done.questions)} answered.")
    return response
