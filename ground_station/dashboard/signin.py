"""Signing in to the dashboard: a reader token, once, for a session cookie that opens reads.

``POST /signin`` checks the token against ``GS_READ_TOKENS`` and answers 303 to the page the
user came for with ``Set-Cookie: eodl_session=...; HttpOnly; SameSite=Strict``; a wrong token
gets the form again with 401. ``POST /signout`` clears the cookie. The HTML pages send a
browser without a session to ``/signin`` instead of answering 401.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from ground_station.api.access import COOKIE, issue_session
from ground_station.api.deps import ContextDep, reader_of
from ground_station.context import GroundContext
from shared.errors import AuthenticationError
from shared.protocol.tokens import Role

SIGNIN = "/signin"
router = APIRouter(tags=["dashboard"], include_in_schema=False)


def may_read(request: Request, context: GroundContext) -> bool:
    """True when the request may read (public reads, a reader token or a session)."""
    if context.settings.public_reads:
        return True
    try:
        return reader_of(request, context) is not None
    except AuthenticationError:
        return False


def signin_redirect(request: Request) -> RedirectResponse:
    """303 to the sign-in page, coming back to this page afterwards."""
    return RedirectResponse(f"{SIGNIN}?next={request.url.path}", status_code=303)


def _page(failed: bool) -> str:
    from ground_station.dashboard.routes import STATIC_DIR

    html = (STATIC_DIR / "signin.html").read_text()
    return html.replace('role="alert" hidden>', 'role="alert">') if failed else html


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or a scheme): no open redirect."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


@router.get(SIGNIN, response_class=HTMLResponse)
def signin_page() -> HTMLResponse:
    """The sign-in form."""
    return HTMLResponse(_page(failed=False))


@router.post(SIGNIN, response_model=None)
def sign_in(
    context: ContextDep,
    token: Annotated[str, Form(max_length=512)],
    next: str | None = None,  # noqa: A002 - the query parameter's name
) -> HTMLResponse | RedirectResponse:
    """Exchange a reader token for a session cookie."""
    tokens = context.read_tokens
    entry = None
    if tokens is not None:
        try:
            entry = tokens.check(f"Bearer {token}", Role.READER)
        except AuthenticationError:
            entry = None
    if entry is None:
        context.metrics.auth_failures.inc()
        return HTMLResponse(_page(failed=True), status_code=401)
    lifetime_s = context.settings.session_hours * 3600.0
    answer = RedirectResponse(_safe_next(next), status_code=303)
    answer.set_cookie(
        COOKIE,
        issue_session(entry.name, context.session_key, lifetime_s),
        max_age=int(lifetime_s),
        httponly=True,
        samesite="strict",
        path="/",
    )
    return answer


@router.post("/signout")
def sign_out() -> RedirectResponse:
    """Forget the session cookie."""
    answer = RedirectResponse(SIGNIN, status_code=303)
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return answer
