"""Importing an inventory spreadsheet (CSV) into an organization from its page."""

from __future__ import annotations

from typing import IO, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from forewarn.domain.inventory import Role
from forewarn.services import importing, orgs
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import ImportReport, OrgOut
from forewarn.services.scope import require
from forewarn.web.forms import FieldErrors, text
from forewarn.web.humanize import size_text
from forewarn.web.render import page
from forewarn.web.session import PostedForm, SignedIn, WebId, WebUser, get_ctx

router = APIRouter(include_in_schema=False)

_CHUNK = 64 * 1024
_OPTIONS = ("skip_bad", "dry_run")


def upload_limit(request: Request) -> int:
    """The largest file the form can carry: the request body limit applies to it first."""
    settings = get_ctx(request).settings
    return min(settings.max_body_bytes, settings.import_max_bytes)


def read_bounded(source: IO[bytes], limit: int) -> bytes | None:
    """The file's bytes, read in chunks; None as soon as it proves larger than `limit`."""
    chunks: list[bytes] = []
    size = 0
    while chunk := source.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _import_page(
    request: Request,
    user: WebUser,
    org: OrgOut,
    *,
    options: dict[str, bool],
    status: int = 200,
    errors: FieldErrors | None = None,
    problem: str = "",
    problems: list[dict[str, Any]] | None = None,
    report: ImportReport | None = None,
    filename: str = "",
) -> Response:
    return page(
        request,
        "orgs/import.html",
        user,
        status=status,
        section="overview",
        org=org,
        options=options,
        errors=errors or {},
        problem=problem,
        problems=problems or [],
        report=report,
        filename=filename,
        limit=upload_limit(request),
        fields=importing.FIELDS,
        required=importing.REQUIRED,
    )


def _org_for_import(request: Request, user: WebUser, org_id: int) -> OrgOut:
    org = orgs.get(get_ctx(request), user.actor, org_id)
    require(user.actor, org_id, Role.TECHNICIAN)
    return org


@router.get("/orgs/{org_id}/import")
def import_form(request: Request, org_id: WebId, user: SignedIn) -> Response:
    org = _org_for_import(request, user, org_id)
    return _import_page(request, user, org, options=dict.fromkeys(_OPTIONS, False))


@router.post("/orgs/{org_id}/import")
def import_file(request: Request, org_id: WebId, user: SignedIn, form: PostedForm) -> Response:
    """Check and import the uploaded file; its problems come back by line and column."""
    org = _org_for_import(request, user, org_id)
    options = {name: bool(text(form, name)) for name in _OPTIONS}
    again = {"options": options}
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        errors = {"file": ["Choose the CSV file to import."]}
        return _import_page(request, user, org, **again, errors=errors, status=422)
    limit = upload_limit(request)
    try:
        data = read_bounded(upload.file, limit)
    finally:
        upload.file.close()
    name = upload.filename
    if data is None:
        message = f"The file is larger than {size_text(limit)}. Split it into smaller files."
        return _import_page(request, user, org, **again, errors={"file": [message]}, status=422)
    try:
        report = importing.import_assets(get_ctx(request), user.actor, org_id, data, **options)
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        return _import_page(
            request,
            user,
            org,
            **again,
            status=exc.status,
            problem=_sentence(exc.detail.replace("with skip_bad", "by ticking “Skip bad rows”")),
            problems=exc.errors,
            filename=name,
        )
    # After a successful check the next step is the real import: offer it unticked.
    after = {**options, "dry_run": False}
    return _import_page(request, user, org, options=after, report=report, filename=name)


def _sentence(message: str) -> str:
    message = message.strip()
    if not message:
        return "The file could not be imported."
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", ")")) else message + "."
