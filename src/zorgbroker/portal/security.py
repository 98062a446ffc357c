"""What every request and response goes through: security headers, the session and browser
cookies, and the CSRF check of every state-changing request.

- Headers: a CSP without inline script or style, HSTS, nosniff, referrers only to
  our own pages (links in mails carry tokens), no framing; HTML is never cached.
- Cookies: `__Host-` names, Secure, HttpOnly, SameSite=Lax. The session cookie holds a random
  identifier whose digest the database stores; the browser cookie is OWASP's device cookie.
- CSRF: a POST must come from our own origin (Origin, else Referer, else Sec-Fetch-Site) and
  carry the session's token, as the form field `csrf_token` or htmx's `X-CSRF-Token` header.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import HTTPException, Request, Response

from zorgbroker.accounts.interfaces import RequestContext
from zorgbroker.accounts.services import AccountServices
from zorgbroker.accounts.sessions import SessionInfo
from zorgbroker.accounts.tokens import new_token

SESSION_COOKIE = "__Host-zb-sessie"
BROWSER_COOKIE = "__Host-zb-browser"
BROWSER_COOKIE_SECONDS = 400 * 24 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: Chromium then sends "Origin: null" with a form POST, which the CSRF
    # check must refuse. same-origin keeps links with tokens from leaking to other sites.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def services_of(request: Request) -> AccountServices:
    services: AccountServices = request.app.state.services
    return services


def context_of(request: Request) -> RequestContext:
    return RequestContext(
        address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", "")[:300],
        browser_token=request.state.browser_token,
    )


def current_session(request: Request) -> SessionInfo | None:
    session: SessionInfo | None = request.state.session
    return session


def session_token(request: Request) -> str | None:
    token: str | None = request.state.session_token
    return token


def use_session(request: Request, token: str) -> None:
    """Send this (new) session identifier to the browser with the response."""
    request.state.session_token = token
    request.state.session = services_of(request).sessions.load(token, touch=False)
    request.state.cookie_change = token


def drop_session(request: Request) -> None:
    request.state.session_token = None
    request.state.session = None
    request.state.cookie_change = ""


def ensure_session(request: Request) -> SessionInfo:
    """A session for a page with a form (an anonymous one before signing in)."""
    session = current_session(request)
    if session is None:
        token, session = services_of(request).sessions.start(context_of(request))
        use_session(request, token)
    return session


def csrf_token(request: Request) -> str:
    return ensure_session(request).csrf_secret


def _same_origin(value: str, origin: str) -> bool:
    parts = urlsplit(value)
    return f"{parts.scheme}://{parts.netloc}" == origin


async def csrf_guard(request: Request) -> None:
    """App-wide dependency: refuse a state change from another site or without the token."""
    if request.method in SAFE_METHODS:
        return
    origin: str = request.app.state.origin
    if request.headers.get("origin"):
        allowed = _same_origin(request.headers["origin"], origin)
    elif request.headers.get("referer"):
        allowed = _same_origin(request.headers["referer"], origin)
    else:
        allowed = request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
    if not allowed:
        raise HTTPException(403, "Dit verzoek komt niet van deze website en is geweigerd.")
    token = request.headers.get("x-csrf-token")
    if token is None and request.url.path in getattr(request.app.state, "streamed_forms", ()):
        # This route reads its multipart body as a stream, so that a file it refuses is never
        # spooled to disk; it checks the form's token itself (`form_token_valid`) before the
        # file part is taken.
        return
    if token is None:
        form = await request.form()
        value = form.get("csrf_token")
        token = value if isinstance(value, str) else None
    if not form_token_valid(request, token):
        raise HTTPException(403, CSRF_REFUSED)


CSRF_REFUSED = (
    "Dit formulier is verlopen of ongeldig. Laad de pagina opnieuw en probeer het nog eens."
)


def form_token_valid(request: Request, token: str | None) -> bool:
    """Whether `token` is the session's CSRF token."""
    session = current_session(request)
    return bool(session and token and secrets.compare_digest(token, session.csrf_secret))


def _set_cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax"
    )


async def session_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    services = services_of(request)
    browser = request.cookies.get(BROWSER_COOKIE)
    new_browser = browser is None or len(browser) > 100
    request.state.browser_token = new_token() if new_browser else browser
    token = request.cookies.get(SESSION_COOKIE)
    # Static files and the API (bearer tokens) neither use nor set the browser's cookies.
    is_static = request.url.path.startswith(("/static/", "/api/"))
    request.state.session = None if is_static else services.sessions.load(token)
    request.state.session_token = token if request.state.session is not None else None
    request.state.cookie_change = None
    if token and request.state.session is None and not is_static:
        request.state.cookie_change = ""  # an ended or unknown session: clear the cookie
    response = await call_next(request)
    change = request.state.cookie_change
    if change:
        _set_cookie(response, SESSION_COOKIE, change, None)
    elif change == "":
        response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    if new_browser and not is_static:
        _set_cookie(response, BROWSER_COOKIE, request.state.browser_token, BROWSER_COOKIE_SECONDS)
    return response


async def headers_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response
