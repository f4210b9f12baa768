"""Who may read the ground: the satellite (signed), reader tokens, signed-in browsers.

Reads are public only when ``GS_PUBLIC_READS=true`` asks for it. Otherwise a read needs one
of: the satellite's HMAC signature; ``Authorization: Bearer <token>`` with a token of
``GS_READ_TOKENS`` (any role); or the dashboard's session cookie, which ``POST /signin`` sets
in exchange for such a token. The cookie is ``HttpOnly`` and ``SameSite=Strict``, it opens
reads only (every write is signed), and it carries the token holder's name and an expiry
under an HMAC keyed from the link key, so every ground process of one station accepts it and
none keeps session state.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from shared.errors import AuthenticationError
from shared.protocol.tokens import SCHEME, Role, TokenTable

COOKIE = "eodl_session"
_CONTEXT = b"eodl dashboard session v1"


def session_key(link_key: bytes) -> bytes:
    """The key sessions are signed with, derived from (and never equal to) the link key."""
    return hmac.new(link_key, _CONTEXT, hashlib.sha256).digest()


def issue_session(name: str, key: bytes, lifetime_s: float, now: float | None = None) -> str:
    """A cookie value naming ``name`` until ``now + lifetime_s``."""
    expires = int((time.time() if now is None else now) + lifetime_s)
    body = base64.urlsafe_b64encode(json.dumps({"n": name, "exp": expires}).encode()).decode()
    return f"{body}.{_mac(key, body)}"


def session_holder(value: str | None, key: bytes, now: float | None = None) -> str | None:
    """The name a valid, unexpired cookie value carries; None for anything else."""
    body, _, mac = (value or "").partition(".")
    if not body or not hmac.compare_digest(mac, _mac(key, body)):
        return None
    try:
        fields = json.loads(base64.urlsafe_b64decode(body.encode()))
        name, expires = str(fields["n"]), float(fields["exp"])
    except (ValueError, KeyError, TypeError):
        return None
    return name if expires > (time.time() if now is None else now) else None


def bearer_reader(authorization: str | None, tokens: TokenTable | None) -> str | None:
    """The name of the reader token in ``Authorization``, None when the header has none.

    Raises:
        AuthenticationError: a bearer token that is not one of ``GS_READ_TOKENS``.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != SCHEME.lower():
        return None
    if tokens is None:
        raise AuthenticationError("this ground has no read tokens (GS_READ_TOKENS is empty)")
    return tokens.check(authorization, Role.READER).name


def _mac(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()
