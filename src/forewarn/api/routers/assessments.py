"""Assessments: run one, list and read the snapshots, download the JSON, the report (HTML,
PDF) and the one-page executive summary (PDF); the questionnaire."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from forewarn.api.deps import YAML_TYPES, Caller, Ctx, IdPath, yaml_body
from forewarn.api.routers.reports import attachment
from forewarn.services import assessments
from forewarn.services.assessments import (
    AnswersIn,
    AssessmentDetail,
    AssessmentList,
    QuestionnaireOut,
)

router = APIRouter(prefix="/api/v1", tags=["assessments"])

_REFUSED = {
    403: {"description": "the caller may see the organization but is not a technician"},
    404: {"description": "no such organization, or not one the caller may see"},
}
_ANSWERS_YAML: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "an answers file, YAML (see docs/assessment.md)",
        "content": {t: {"schema": {"type": "string"}} for t in YAML_TYPES},
    }
}


@router.post(
    "/orgs/{org_id}/assessments",
    response_model=AssessmentDetail,
    status_code=201,
    responses=_REFUSED,
)
def run_assessment(org_id: IdPath, ctx: Ctx, actor: Caller) -> AssessmentDetail:
    """Assess the organization now from what the platform knows and its answers, and keep
    the snapshot (technicians). An organization with no data gets `no_data` and no score."""
    return assessments.run(ctx, actor, org_id)


@router.get("/orgs/{org_id}/assessments", response_model=AssessmentList)
def list_assessments(org_id: IdPath, ctx: Ctx, actor: Caller) -> AssessmentList:
    """The organization's snapshots, newest first, with their overall score and coverage."""
    return assessments.list_for_org(ctx, actor, org_id)


@router.get("/assessments/{assessment_id}", response_model=AssessmentDetail)
def get_assessment(assessment_id: IdPath, ctx: Ctx, actor: Caller) -> AssessmentDetail:
    """One snapshot with its whole document (schema forewarn.assessment/1)."""
    return assessments.get(ctx, actor, assessment_id)


@router.get(
    "/assessments/{assessment_id}/json",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "the document"}},
)
def download_assessment(assessment_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    """The snapshot's canonical JSON document, as a file."""
    found = assessments.get(ctx, actor, assessment_id)
    name = f"assessment-{found.org_id}-{found.id}.json"
    return Response(
        assessments.canonical_json(found.document),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/orgs/{org_id}/questionnaire", response_model=QuestionnaireOut)
def get_questionnaire(org_id: IdPath, ctx: Ctx, actor: Caller) -> QuestionnaireOut:
    """The questions, each with the safeguards it evidences and the current answer."""
    return assessments.questions(ctx, actor, org_id)


@router.post(
    "/orgs/{org_id}/questionnaire",
    response_model=QuestionnaireOut,
    responses={**_REFUSED, 422: {"description": "`errors` names each problem; nothing kept"}},
)
def answer_questionnaire(
    org_id: IdPath, body: AnswersIn, ctx: Ctx, actor: Caller
) -> QuestionnaireOut:
    """Answer questions (technicians): all are checked first and any problem refuses all."""
    return assessments.answer(ctx, actor, org_id, body)


@router.post(
    "/orgs/{org_id}/questionnaire/import",
    response_model=QuestionnaireOut,
    openapi_extra=_ANSWERS_YAML,
    responses={
        **_REFUSED,
        415: {"description": "the body is not declared as YAML"},
        422: {"description": "`errors` names each problem by line and question; nothing kept"},
    },
)
def import_answers(
    org_id: IdPath, ctx: Ctx, actor: Caller, body: Annotated[bytes, Depends(yaml_body)]
) -> QuestionnaireOut:
    """Import an answers file (YAML): refused whole, with each problem named, when any
    question id or answer is wrong."""
    return assessments.import_answers(ctx, actor, org_id, body)


@router.get(
    "/assessments/{assessment_id}/html",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}, "description": "the full report"}},
)
def assessment_html(assessment_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    """The full report as one self-contained HTML document, rendered from the stored JSON."""
    found, text = assessments.html_of(ctx, actor, assessment_id)
    return attachment(text, "html", assessments.file_name(found, "html"))


@router.get(
    "/assessments/{assessment_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "the full report"}},
)
def assessment_pdf(assessment_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    """The full report printed to PDF (A4): scores with coverage, the risk register with
    money ranges, hidden gaps, the 30/60/90-day and technology plans, the comparison."""
    found, data = assessments.pdf_of(ctx, actor, assessment_id)
    return attachment(data, "pdf", assessments.file_name(found, "pdf"))


@router.get(
    "/assessments/{assessment_id}/summary.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "one page"}},
)
def assessment_summary_pdf(assessment_id: IdPath, ctx: Ctx, actor: Caller) -> Response:
    """The one-page executive summary for the owner, as PDF."""
    found, data = assessments.summary_pdf_of(ctx, actor, assessment_id)
    return attachment(data, "pdf", assessments.file_name(found, "pdf", "summary"))
