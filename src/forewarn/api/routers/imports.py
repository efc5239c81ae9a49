"""Importing an inventory spreadsheet: the CSV file is the request body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from forewarn.api.deps import Caller, Ctx, IdPath
from forewarn.services import importing
from forewarn.services.errors import ServiceError
from forewarn.services.schemas import ImportReport

router = APIRouter(prefix="/api/v1/orgs", tags=["assets"])

CSV_TYPES = ("text/csv", "application/octet-stream")
_EXAMPLE = "name,kind,site,tags,warranty_end\nfs01,server,HQ,linux;backup,2027-12-31\n"

# The body is read raw, so FastAPI cannot describe it; say it here for clients and schemathesis.
_CSV_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the CSV file, UTF-8, with a header row (see docs/importing.md)",
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": _EXAMPLE,
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

_ROW_ERRORS = {
    "description": "the file or some rows are wrong; `errors` lists line, column and message, "
    "and nothing was stored",
    "content": {
        "application/problem+json": {
            "schema": {
                "type": "object",
                "properties": {
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "errors": {
                        "type": "array",
                        # Row problems; a malformed query string gets FastAPI's loc/msg/type.
                        "items": {
                            "anyOf": [
                                {"$ref": "#/components/schemas/ImportRowError"},
                                {"type": "object", "required": ["loc", "msg"]},
                            ]
                        },
                    },
                },
            }
        }
    },
}


async def csv_body(request: Request) -> bytes:
    """The raw body, refused unless it is declared as CSV (or as plain bytes)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CSV_TYPES:
        raise ServiceError(
            f"send the file with Content-Type: text/csv, not {media_type or 'none'!r}",
            status=415,
            title="Unsupported media type",
        )
    return await request.body()


@router.post(
    "/{org_id}/assets/import",
    response_model=ImportReport,
    openapi_extra=_CSV_BODY,
    responses={
        401: {"description": "no valid bearer token"},
        403: {"description": "the caller is not a technician of the organization"},
        404: {"description": "no such organization, or not one the caller may see"},
        413: {"description": "the file is over the configured body size"},
        415: {"description": "the body is not declared as CSV"},
        422: _ROW_ERRORS,
    },
)
def import_assets(
    org_id: IdPath,
    ctx: Ctx,
    actor: Caller,
    body: Annotated[bytes, Depends(csv_body)],
    skip_bad: Annotated[bool, Query(description="store the good rows, skip the bad")] = False,
    dry_run: Annotated[bool, Query(description="check everything, store nothing")] = False,
) -> ImportReport:
    """Import assets from a CSV inventory; every row is checked before anything is stored.

    Missing sites named in the `site` column are created. With bad rows and not `skip_bad`,
    the answer is 422 with every problem and nothing changes.
    """
    return importing.import_assets(ctx, actor, org_id, body, skip_bad=skip_bad, dry_run=dry_run)
