"""The one error type of the service layer; faces turn it into 4xx answers or CLI messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ServiceError(Exception):
    detail: str
    status: int = 400
    title: str = "Bad request"
    errors: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


def not_found(what: str) -> ServiceError:
    return ServiceError(f"{what} not found", status=404, title="Not found")


def forbidden(detail: str) -> ServiceError:
    return ServiceError(detail, status=403, title="Forbidden")


def conflict(detail: str) -> ServiceError:
    return ServiceError(detail, status=409, title="Conflict")


def invalid(detail: str, errors: list[dict[str, Any]] | None = None) -> ServiceError:
    return ServiceError(detail, status=422, title="Invalid input", errors=errors or [])


def unauthorized(detail: str = "authentication required") -> ServiceError:
    return ServiceError(
        detail, status=401, title="Unauthorized", headers={"WWW-Authenticate": "Bearer"}
    )


def throttled(retry_after: int) -> ServiceError:
    return ServiceError(
        f"too many failed logins; try again in {retry_after} s",
        status=429,
        title="Too many requests",
        headers={"Retry-After": str(retry_after)},
    )
