"""The server's Ed25519 signing key (agents pin its public half) and secrets at rest.

The private key is stored in the database encrypted with a key derived from
FOREWARN_SECRET_KEY, so every server process over one database signs with the same key and a
copy of the database alone cannot sign commands.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.exc import IntegrityError

from forewarn.services.context import Context
from forewarn.store.models import KeyValue

_KEY = "signing_key"


def _fernet(ctx: Context) -> Fernet:
    digest = hashlib.sha256(b"forewarn-at-rest:" + ctx.settings.effective_secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))


def encrypt(ctx: Context, plain: bytes) -> str:
    return _fernet(ctx).encrypt(plain).decode()


def decrypt(ctx: Context, token: str) -> bytes:
    return _fernet(ctx).decrypt(token.encode())


def signing_key(ctx: Context) -> Ed25519PrivateKey:
    """The server's key, created on first use; concurrent first uses agree on one key."""
    with ctx.db.read() as session:
        row = session.get(KeyValue, _KEY)
        if row is not None:
            return _load(ctx, row.value)
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    try:
        with ctx.db.transaction() as session:
            session.add(KeyValue(key=_KEY, value=encrypt(ctx, raw)))
    except IntegrityError:
        pass  # another process stored one first: use that
    with ctx.db.read() as session:
        stored = session.get(KeyValue, _KEY)
        assert stored is not None
        return _load(ctx, stored.value)


def _load(ctx: Context, value: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(decrypt(ctx, value))


def public_key_b64(ctx: Context) -> str:
    raw = (
        signing_key(ctx)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return base64.b64encode(raw).decode()
