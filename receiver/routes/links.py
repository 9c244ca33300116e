"""GET /r/{code}: a tracking-link click: land it, set the rd_click_id cookie, redirect."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse

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


@router.get(
    "/r/{code}",
    response_class=RedirectResponse,
    status_code=status.HTTP_302_FOUND,
    responses={404: {"description": "unknown tracking link (never a redirect)"}},
)
async def follow_tracking_link(
    code: str,
    request: Request,
    settings: SettingsDep,
    program: ProgramDep,
    ip_salt: IpSaltDep,
    writer: ClickWriterDep,
    landed: LandedClickIdsDep,
) -> RedirectResponse:
    link = program.link(code)
    if link is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown tracking link")
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

    response = RedirectResponse(
        redirect_location(link.destination, request.url.query, click_id),
        status_code=status.HTTP_302_FOUND,
    )
    response.headers["Cache-Control"] = "no-store"
    # The destination learns the referring page's origin, not its full URL.
    response.headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
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
