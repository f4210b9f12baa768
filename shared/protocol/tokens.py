"""API tokens of both services: bearer tokens with ordered roles, kept as SHA-256 hashes.

Roles are ordered; each includes the ones below it: ``reader`` < ``uploader`` < ``operator``
(what each may do is the service's to say: :mod:`satellite_node.auth`; the ground's reads
need a reader). Tokens are configured as their SHA-256 (a JSON list of ``{"name", "role",
"sha256"}``; ``eodl satellite token`` makes one), never in clear, and travel in the
``Authorization: Bearer`` header. A token is checked against every configured hash with
:func:`hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, Field

from shared.errors import AuthenticationError, ConfigurationError, ForbiddenError

SCHEME = "Bearer"
TOKEN_BYTES = 32


class Role(IntEnum):
    """What a token may do; a higher role includes every lower one."""

    READER = 1
    UPLOADER = 2
    OPERATOR = 3

    @classmethod
    def named(cls, name: str) -> Role:
        """The role called ``name`` (reader, uploader, operator).

        Raises:
            ConfigurationError: no such role.
        """
        try:
            return cls[name.strip().upper()]
        except KeyError:
            valid = ", ".join(r.name.lower() for r in cls)
            raise ConfigurationError(f"unknown role {name!r}; roles: {valid}") from None


class ApiToken(BaseModel):
    """One configured token: who holds it, its role, its SHA-256 (hex) and its quotas.

    Attributes:
        alerts: may upload at ``alert`` priority (operators always may); a scene that asks
            for it, or defaults to it (fire), from a token without the right is stored at
            ``high`` and the answer says so.
        store_share: the fraction of the onboard store its undelivered scenes may hold.
        uploads_per_minute, upload_bytes_per_minute: upload rate limits (None: none); over
            them an upload is answered 429 with ``Retry-After`` before its body is read.
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    role: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    alerts: bool = False
    store_share: float = Field(default=1.0, gt=0.0, le=1.0)
    uploads_per_minute: int | None = Field(default=None, ge=1)
    upload_bytes_per_minute: int | None = Field(default=None, ge=1)

    def may_alert(self) -> bool:
        """True when the token may send scenes at alert priority."""
        return self.alerts or self.rank() >= Role.OPERATOR

    def rank(self) -> Role:
        """The token's role."""
        return Role.named(self.role)


def hash_token(token: str) -> str:
    """The SHA-256 (hex) a token is configured by."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(name: str, role: str, **quotas: Any) -> tuple[str, ApiToken]:
    """A fresh random token and the entry that configures it (``quotas``: ApiToken fields)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    role_name = Role.named(role).name.lower()
    entry = ApiToken(name=name, role=role_name, sha256=hash_token(token), **quotas)
    return token, entry


class TokenTable:
    """The configured tokens; :meth:`check` authenticates and authorises one request."""

    def __init__(self, tokens: list[ApiToken]) -> None:
        for token in tokens:
            token.rank()  # an unknown role fails at start-up, not at the first request
        self.tokens = list(tokens)

    def identify(self, token: str) -> ApiToken | None:
        """The entry whose hash matches ``token`` (every entry is compared, in constant time)."""
        digest = hash_token(token).encode()
        found = None
        for entry in self.tokens:
            if hmac.compare_digest(digest, entry.sha256.encode()):
                found = entry
        return found

    def check(self, authorization: str | None, needed: Role) -> ApiToken:
        """The caller's token entry, when it has at least the ``needed`` role.

        Raises:
            AuthenticationError: no bearer token, or one that is not configured (401).
            ForbiddenError: the token's role is below ``needed`` (403).
        """
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != SCHEME.lower() or not token.strip():
            raise AuthenticationError(
                f"this route needs a {needed.name.lower()} token: send "
                f"'Authorization: {SCHEME} <token>' (eodl satellite token makes one)"
            )
        entry = self.identify(token.strip())
        if entry is None:
            raise AuthenticationError("the bearer token is not one this satellite knows")
        if entry.rank() < needed:
            raise ForbiddenError(
                f"token {entry.name!r} is a {entry.role}; this route needs a "
                f"{needed.name.lower()} (or higher)"
            )
        return entry
