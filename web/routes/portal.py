"""/portal: an affiliate's own pages — links, clicks, conversions, earnings, statements.

An affiliate signs in through a signed link (`attro portal link`), which sets the portal cookie.
Every query takes the affiliate's id from that session, never from the URL or a form, so changing
an id in a request cannot reach another affiliate's data. Customers are shown masked.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.program import Program
from core.state.closed_periods import closed_at
from web import downloads, queries
from web.colours import ink_on_white, text_on
from web.deps import CsrfToken, Parts, PortalAffiliate, ProgramDep, check_csrf
from web.portal_links import PortalLinkError, read_token
from web.sessions import Session

router = APIRouter(prefix="/portal", include_in_schema=False)

NAV = [("", "Overview"), ("conversions", "Conversions"), ("clicks", "Clicks")]


def _render(
    request: Request, name: str, session: Session | None, code: int = 200, **context: Any
) -> HTMLResponse:
    parts = request.app.state.parts
    program = parts.program_file.current()
    return parts.templates.TemplateResponse(
        request,
        f"portal/{name}.html",
        {
            "nav": NAV,
            "area": "portal",
            "brand": program.portal,
            "csrf_token": session.csrf_token if session else "",
            "page_name": name,
            **context,
        },
        status_code=code,
    )


def signed_out_page(request: Request, code: int, message: str | None = None) -> HTMLResponse:
    return _render(request, "signed_out", None, code, message=message)


@router.get("/brand.css")
def brand_css(program: ProgramDep) -> Response:
    """The program's colour as a stylesheet (validated #rrggbb), so pages need no inline style; with
    the colours readable beside it (a brand yellow is a border, never white text or a link)."""
    brand = program.portal.primary_color
    colours = f"--primary: {brand}; --primary-ink: {ink_on_white(brand)}; --on-primary: {text_on(brand)};"
    css = f":root {{ {colours} }}\n"
    return Response(css, media_type="text/css", headers={"Cache-Control": "no-cache"})


@router.get("/login")
def sign_in(request: Request, parts: Parts, program: ProgramDep, token: str = "") -> Response:
    try:
        grant = read_token(parts.signing_key(), token)
    except PortalLinkError as exc:
        return signed_out_page(request, status.HTTP_403_FORBIDDEN, str(exc))
    if all(a.id != grant.affiliate_id for a in program.affiliates):
        return signed_out_page(
            request, status.HTTP_403_FORBIDDEN, "this link's affiliate is not in the program"
        )
    session = Session.new(affiliate=grant.affiliate_id, exp=grant.expires_at)
    # A page that moves on by itself rather than a redirect: a SameSite=Strict cookie set while
    # following a link from a mail is not sent on redirects of that same navigation.
    response = _render(request, "signed_in", session)
    parts.portal_cookie.write(response, session, max_age=max(1, grant.expires_at - int(time.time())))
    return response


@router.post("/logout")
def sign_out(parts: Parts, affiliate: PortalAffiliate, csrf_token: CsrfToken = None) -> Response:
    check_csrf(affiliate.session, csrf_token)
    parts.signed_out.add(affiliate.session, affiliate.session.data["exp"])  # an int: portal_affiliate checked
    response = RedirectResponse("/portal/signed-out", status.HTTP_303_SEE_OTHER)
    parts.portal_cookie.clear(response)
    return response


@router.get("/signed-out")
def signed_out(request: Request) -> HTMLResponse:
    return signed_out_page(request, status.HTTP_200_OK, "You are signed out.")


@router.get("")
@router.get("/")
def overview(request: Request, parts: Parts, affiliate: PortalAffiliate, program: ProgramDep) -> HTMLResponse:
    base = parts.settings.receiver_url.rstrip("/")
    links = [
        {
            "code": link.code,
            "offer": program.offer(link.offer).name,
            "url": f"{base}/r/{link.code}",
            "destination": link.destination,
        }
        for link in program.links
        if link.affiliate == affiliate.id
    ]
    codes = _codes(program, affiliate.id, datetime.now(UTC))
    with parts.warehouse.cursor() as cur:
        earnings = queries.earnings_by_month(cur, affiliate.id)
        clicks = queries.clicks_by_month(cur, affiliate.id)
        statements = queries.statements(cur, affiliate=affiliate.id)
    return _render(
        request,
        "overview",
        affiliate.session,
        affiliate=affiliate,
        links=links,
        codes=codes,
        earnings=earnings,
        clicks=clicks,
        statements=statements,
        closed=closed_at(parts.settings),
    )


def _codes(program: Program, affiliate_id: str, now: datetime) -> list[dict[str, str]]:
    """The affiliate's promotion codes a customer can use now or later, each with its dates (a code
    past its valid_until earns nothing: it is left out)."""
    shown = []
    for code in program.codes:
        if code.affiliate != affiliate_id or not code.code:
            continue
        until = code.until_at
        if until is not None and until <= now:
            continue
        note = ""
        if code.from_at is not None and code.from_at > now:
            note = f"from {code.from_at:%Y-%m-%d}"
        if until is not None:
            last = until - timedelta(seconds=1)  # valid_until's day itself, for a date
            note = f"{note} until {last:%Y-%m-%d}".strip()
        shown.append({"code": code.code, "note": note})
    return shown


@router.get("/conversions")
def conversions(request: Request, parts: Parts, affiliate: PortalAffiliate, page: int = 1) -> HTMLResponse:
    with parts.warehouse.cursor() as cur:
        found = queries.conversions(
            cur, queries.ConversionFilter(affiliate=affiliate.id), queries.Page.of(page)
        )
    for row in found.rows:
        row["customer"] = queries.mask_customer(row.pop("customer_id"))
        row.pop("customer_email")  # never shown in the portal
    return _render(request, "conversions", affiliate.session, affiliate=affiliate, found=found, query="")


@router.get("/clicks")
def clicks(
    request: Request,
    parts: Parts,
    affiliate: PortalAffiliate,
    before: datetime | None = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    if before is not None:
        try:
            before = before.astimezone(UTC) if before.tzinfo else before.replace(tzinfo=UTC)
        except OverflowError:  # 9999-12-31T23:59-23:59 is past the last UTC time there is: the edge
            before = (datetime.max if before.year > 1 else datetime.min).replace(tzinfo=UTC)
    with parts.warehouse.cursor() as cur:
        found = queries.recent_clicks(cur, affiliate.id, before, after=after if before else None)
    return _render(request, "clicks", affiliate.session, affiliate=affiliate, found=found)


@router.get("/statements/{period}.csv")
def statement(period: str, parts: Parts, affiliate: PortalAffiliate) -> Response:
    return downloads.served(  # a bad period is refused on the page, like any other reason
        status.HTTP_404_NOT_FOUND,
        "/portal",
        downloads.affiliate_statement,
        parts.settings,
        period,
        affiliate.id,
    )
