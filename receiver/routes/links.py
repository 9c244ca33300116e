"""GET /r/{code}: a tracking-link click: land it, set the rd_click_id cookie, redirect."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from fastapi import APIRouter, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.click_ids import new_click_id
from core.contracts import UTM_FIELDS
from receiver.click_record import click_record, hash_ip
from receiver.deps import ClickWriterDep, IpSaltDep, LandedClickIdsDep, ProgramDep, SettingsDep
from receiver.landing import LandingError
from receiver.logs import annotate_request

router = APIRouter(tags=["links"])

CLICK_ID_PARAM = "rd_click_id"
COOKIE_NAME = "rd_click_id"
# RFC 3986 query characters, plus '%' so the visitor's own escapes are kept as they are.
_QUERY_SAFE = "!$'()*+,;=:@/?%-._~"
# The destination learns the referring page's origin, not its full URL.
REFERRER_POLICY = "strict-origin-when-cross-origin"


def _param_name(segment: str) -> str:
    return unquote_plus(segment.partition("=")[0])


def redirect_location(destination: str, visitor_query: str, click_id: str | None) -> str:
    """The destination with the visitor's query kept and our click id added.

    Scheme, host and path always come from the program file (no open redirect: the visitor's text
    only ever lands after the '?'). The visitor's parameters pass through byte for byte, in order,
    repeats and bare keys included; only characters that are never valid in a query (space, '#',
    controls, non-ASCII) are percent-encoded. The destination's own parameters win over a visitor's
    of the same name; any `rd_click_id` is dropped (a visitor's id is never trusted as ours) and
    ours, when we have one, is appended.
    """
    parts = urlsplit(destination)
    own = [seg for seg in parts.query.split("&") if seg and _param_name(seg) != CLICK_ID_PARAM]
    taken = {_param_name(seg) for seg in own} | {CLICK_ID_PARAM}
    visitor = [
        quote(seg, safe=_QUERY_SAFE)
        for seg in visitor_query.split("&")
        if seg and _param_name(seg) not in taken
    ]
    segments = own + visitor
    if click_id is not None:
        segments.append(f"{CLICK_ID_PARAM}={click_id}")
    return urlunsplit(parts._replace(query="&".join(segments)))


def click_cookie(click_id: str, max_age: int, *, secure: bool, domain: str | None) -> str:
    """The Set-Cookie value. Not HttpOnly: the merchant's page script reads the id."""
    attributes = [f"{COOKIE_NAME}={click_id}", f"Max-Age={max_age}", "Path=/"]
    if domain:
        attributes.append(f"Domain={domain}")
    attributes.append("SameSite=Lax")
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes)


# For a visitor who followed a stale or mistyped link: a page, not JSON. It repeats nothing from the
# request, so nothing a link carries can end up in it.
UNKNOWN_LINK_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="robots" content="noindex"><title>Link not found</title></head>
<body>
<h1>Link not found</h1>
<p>This link is not active. Check the address you followed, or go to the site's home page.</p>
</body>
</html>
"""


def _no_store(response: Response) -> Response:
    """Never cached: a link added to the program file works at once, a removed one stops."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _redirect(location: str) -> Response:
    """A 302 to `location`, never cached, telling the destination only the referring origin."""
    response = RedirectResponse(location, status_code=status.HTTP_302_FOUND)
    response.headers["Referrer-Policy"] = REFERRER_POLICY
    return _no_store(response)


def unknown_link(fallback_url: str | None) -> Response:
    """A code the program file does not name: to ATTRO_FALLBACK_URL when set (302, exactly that URL),
    else an HTML 404 page. No click is landed and no cookie set either way."""
    if fallback_url:
        return _redirect(fallback_url)
    page = HTMLResponse(UNKNOWN_LINK_PAGE, status_code=status.HTTP_404_NOT_FOUND)
    page.headers["Content-Security-Policy"] = "default-src 'none'"
    return _no_store(page)


async def unmatched_path(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's answer to an HTTP error, except that a path under /r/ no route matched (Starlette's
    `path` convertor stops at a newline: `/r/a%0Ab`) is an unknown link to a visitor like any other."""
    unmatched = "endpoint" not in request.scope
    if exc.status_code == status.HTTP_404_NOT_FOUND and unmatched and request.url.path.startswith("/r/"):
        fallback_url = request.app.state.settings.fallback_url
        annotate_request(request, outcome="unknown_link", fallback=bool(fallback_url))
        return unknown_link(fallback_url)
    return await http_exception_handler(request, exc)


@router.head("/r/{code:path}", include_in_schema=False)
async def check_tracking_link(
    code: str, request: Request, settings: SettingsDep, program: ProgramDep
) -> Response:
    """HEAD, as link checkers and uptime monitors ask: where the link goes, but no visit: no click
    landed, no click id, no cookie."""
    link = program.link(code)
    if link is None:
        return unknown_link(settings.fallback_url)
    return _redirect(redirect_location(link.destination, request.url.query, None))


@router.get(
    "/r/{code:path}",  # a code with "/" in it is no link: the unknown-link answer, not a bare 404
    response_class=RedirectResponse,
    status_code=status.HTTP_302_FOUND,
    responses={
        404: {
            "description": "unknown tracking link and no ATTRO_FALLBACK_URL: an HTML page, never a redirect",
            "content": {"text/html": {}},
        }
    },
)
async def follow_tracking_link(
    code: str,
    request: Request,
    settings: SettingsDep,
    program: ProgramDep,
    ip_salt: IpSaltDep,
    writer: ClickWriterDep,
    landed: LandedClickIdsDep,
) -> Response:
    link = program.link(code)
    if link is None:
        annotate_request(request, outcome="unknown_link", fallback=bool(settings.fallback_url))
        return unknown_link(settings.fallback_url)
    now = datetime.now(UTC)
    click_id: str | None = new_click_id(now)
    user_agent = request.headers.get("user-agent")
    record = click_record(
        click_id=click_id,
        clicked_at=now,
        source="redirect",
        link=link,
        ip_hash=hash_ip(ip_salt, request.client.host if request.client else None),
        user_agent=user_agent,
        referer=request.headers.get("referer"),
        landing_url=str(request.url),
        utm={name: request.query_params.get(f"utm_{name}") for name in UTM_FIELDS},
        received_at=now,
    )
    try:
        await writer.append([record])
    except LandingError:
        # The visitor still reaches the merchant's site: a lost click costs less than a lost
        # visitor. But no click id is handed out that the landing zone does not hold.
        annotate_request(request, outcome="landing_failed", link_code=link.code)
        click_id = None
    else:
        landed.remember([(record["click_id"], link.code)])  # a backfill may send it again (edge logs)
        annotate_request(request, outcome="landed", link_code=link.code)

    response = _redirect(redirect_location(link.destination, request.url.query, click_id))
    if click_id is not None:
        offer = program.offer(link.offer)
        response.headers.append(
            "Set-Cookie",
            click_cookie(
                click_id,
                offer.attribution_window_days * 86400,
                secure=settings.cookie_secure,
                domain=settings.cookie_domain,
            ),
        )
    return response
