"""Who may call the satellite's API: which role each route needs.

- ``reader``: scene, link and plan views, and the metrics;
- ``uploader``: reader, and scene uploads;
- ``operator``: uploader, and link control (``PUT /v1/link``).

Tokens (:mod:`shared.protocol.tokens`) are configured as their SHA-256 (``SAT_API_TOKENS``),
never in clear. A request carries its token in the ``Authorization: Bearer`` header, never in
a cookie, so a browser page on another origin cannot act with a user's rights (no CSRF by
construction).
"""

from __future__ import annotations

from shared.protocol.routes import HEALTHZ, LINK, READYZ, SCENES
from shared.protocol.tokens import Role

#: The role each route needs; anything else under the API needs a reader. Health probes and
#: the API's own documentation are open.
OPEN_PATHS = frozenset({HEALTHZ, READYZ, "/docs", "/openapi.json", "/docs/oauth2-redirect"})
ROUTE_ROLES: dict[tuple[str, str], Role] = {
    ("POST", SCENES): Role.UPLOADER,
    ("PUT", LINK): Role.OPERATOR,
}


def needed_role(method: str, path: str) -> Role | None:
    """The role a request needs (None: open to anyone)."""
    if path in OPEN_PATHS:
        return None
    return ROUTE_ROLES.get((method.upper(), path.rstrip("/") or "/"), Role.READER)
