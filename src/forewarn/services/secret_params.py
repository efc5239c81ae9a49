"""Secrets inside check parameters (SNMP keys and communities, HTTP passwords), at rest.

They are stored encrypted (Fernet, key from FOREWARN_SECRET_KEY), shown to people as a mask,
and opened only where a probe needs them. A form or API client that sends the mask back keeps
the stored value, so editing a check never requires retyping its password.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from forewarn.services import keys
from forewarn.services.context import Context

SECRET_PARAMS = frozenset({"basic_auth_password", "auth_key", "priv_key", "community"})
MASK = "********"
_SEALED = "fernet:"


def _is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_SEALED)


def open_params(ctx: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """The params with their secrets in clear, for a probe."""
    return {
        k: keys.decrypt(ctx, v[len(_SEALED) :]).decode() if _is_sealed(v) else v
        for k, v in params.items()
    }


def unmask(
    ctx: Context, params: Mapping[str, Any], stored: Mapping[str, Any] | None
) -> dict[str, Any]:
    """New params in clear: a masked secret takes the stored value (opened)."""
    out = dict(params)
    for k in SECRET_PARAMS & out.keys():
        if out[k] == MASK and stored is not None and k in stored:
            out[k] = open_params(ctx, {k: stored[k]})[k]
    return out


def seal(ctx: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """Params with their secrets encrypted, for storage."""
    return {
        k: _SEALED + keys.encrypt(ctx, str(v).encode())
        if k in SECRET_PARAMS and isinstance(v, str) and not _is_sealed(v)
        else v
        for k, v in params.items()
    }


def masked(params: Mapping[str, Any]) -> dict[str, Any]:
    """Params as shown to people and API clients."""
    return {k: MASK if k in SECRET_PARAMS and v is not None else v for k, v in params.items()}
