"""/admin: the merchant's pages — conversions, unattributed payments, risk review, affiliates and
statements with their files, health. Every route but the login form needs an admin session."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from core.state.closed_periods import closed_at
from core.state.review_decisions import DECISIONS, FLAG_ID, ReviewError, record_decision, recorded_decisions
from web import downloads, queries
from web.deps import AdminSession, CsrfToken, Parts, ProgramDep, check_csrf
from web.health import health
from web.portal_links import DEFAULT_DAYS, PortalLinkError, make_token, portal_url
from web.ratelimit import FAILURE_DELAY_SECONDS
from web.reasons import REASONS, explain
from web.sessions import Session
from web.warehouse import WarehouseMissing

router = APIRouter(prefix="/admin", include_in_schema=False)

NAV = [
    ("conversions", "Conversions"),
    ("unattributed", "Unattributed"),
    ("review", "Review"),
    ("affiliates", "Affiliates"),
    ("statements", "Statements"),
    ("health", "Health"),
]


def _render(
    parts: Parts, request: Request, name: str, session: Session, code: int = 200, **context: Any
) -> HTMLResponse:
    response = parts.templates.TemplateResponse(
        request,
        f"admin/{name}.html",
        {"nav": NAV, "area": "admin", "csrf_token": session.csrf_token, "page_name": name, **context},
        status_code=code,
    )
    if session.changed:
        parts.admin_cookie.write(response, session)
    return response


# -- signing in ------------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, parts: Parts) -> HTMLResponse:
    session = parts.admin_cookie.read(request) or Session.new()
    return _render(parts, request, "login", session, enabled=parts.password.encoded is not None, error=None)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/login")
async def login(
    request: Request,
    parts: Parts,
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf_token: CsrfToken = None,
) -> Response:
    session = parts.admin_cookie.read(request)
    if session is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "the form is stale: reload the sign-in page")
    check_csrf(session, csrf_token)
    address = _client(request)
    if wait := parts.limiter.attempt(address):  # counted before the check: parallel guesses too
        return HTMLResponse(
            f"too many failed sign-ins: try again in {wait} s",
            status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(wait)},
        )
    ok = await run_in_threadpool(parts.password.matches, password)  # scrypt: off the event loop
    if not ok:
        await asyncio.sleep(FAILURE_DELAY_SECONDS)
        error = "wrong password" if parts.password.encoded else "the admin is switched off"
        return _render(
            parts, request, "login", session, status.HTTP_401_UNAUTHORIZED, enabled=True, error=error
        )
    parts.limiter.succeeded(address)
    response = RedirectResponse("/admin/conversions", status.HTTP_303_SEE_OTHER)
    parts.admin_cookie.write(response, Session.new(admin=True, pw=parts.password.fingerprint))
    return response


@router.post("/logout")
def logout(parts: Parts, session: AdminSession, csrf_token: CsrfToken = None) -> Response:
    check_csrf(session, csrf_token)
    issued = session.data.get("iat")
    until = (issued if isinstance(issued, int) else time.time()) + parts.admin_cookie.max_age_seconds
    parts.signed_out.add(session, until)
    response = RedirectResponse("/admin/login", status.HTTP_303_SEE_OTHER)
    parts.admin_cookie.clear(response)
    return response


@router.get("")
@router.get("/")
def admin_home(session: AdminSession) -> RedirectResponse:
    return RedirectResponse("/admin/conversions", status.HTTP_303_SEE_OTHER)


# -- conversions and unattributed payments ----------------------------------------------------------


@router.get("/conversions")
def conversions_page(
    request: Request,
    parts: Parts,
    session: AdminSession,
    affiliate: str | None = None,
    offer: str | None = None,
    month: str | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    mode: str | None = None,
    page: int = 1,
) -> HTMLResponse:
    filters = queries.ConversionFilter(
        affiliate or None, offer or None, month or None, status_ or None, mode or None
    )
    choices = parts.warehouse.memo("conversion_choices", queries.conversion_choices)
    with parts.warehouse.cursor() as cur:
        found = queries.conversions(cur, filters, queries.Page.of(page))
    return _render(
        parts,
        request,
        "conversions",
        session,
        found=found,
        filters=filters,
        choices=choices,
        statuses=queries.CONVERSION_STATUSES,
        query=_query_without_page(request),
    )


def _query_without_page(request: Request) -> str:
    """The current filters as a query string, for the paging links."""
    from urllib.parse import urlencode

    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "page" and v])


@router.get("/unattributed")
def unattributed_page(
    request: Request,
    parts: Parts,
    session: AdminSession,
    reason: str | None = None,
    month: str | None = None,
    page: int = 1,
) -> HTMLResponse:
    reasons = parts.warehouse.memo("unattributed_reasons", queries.unattributed_reasons)
    months = parts.warehouse.memo("unattributed_months", queries.unattributed_months)
    with parts.warehouse.cursor() as cur:
        found = queries.unattributed(cur, reason or None, month or None, queries.Page.of(page))
    reasons = [{**row, "explained": explain(row["reason"])} for row in reasons]
    return _render(
        parts,
        request,
        "unattributed",
        session,
        found=found,
        reasons=reasons,
        all_reasons=REASONS,
        explain=explain,
        reason=reason or "",
        month=month or "",
        months=months,
        query=_query_without_page(request),
    )


# -- risk review -----------------------------------------------------------------------------------


@router.get("/review")
def review_page(
    request: Request,
    parts: Parts,
    session: AdminSession,
    show: str = "open",
    page: int = 1,
    done: str | None = None,
) -> HTMLResponse:
    with parts.warehouse.cursor() as cur:
        found = queries.risk_flags(cur, show != "all", queries.Page.of(page))
        open_count = queries.open_flag_count(cur)
    return _render(
        parts,
        request,
        "review",
        session,
        found=found,
        show=show,
        open_count=open_count,
        recorded=recorded_decisions(parts.settings),
        done=_done(done),
        query=f"show={show}",
    )


def _done(done: str | None) -> str | None:
    """The decision just recorded (`rf_…:approved`), from the redirect after it; anything else is
    ignored (the page would show it, or fail on it)."""
    flag_id, _, decision = (done or "").partition(":")
    return done if FLAG_ID.fullmatch(flag_id) and decision in DECISIONS else None


@router.post("/review/{flag_id}")
def decide(
    flag_id: str,
    parts: Parts,
    session: AdminSession,
    decision: Annotated[str, Form()],
    note: Annotated[str, Form(max_length=500)] = "",
    csrf_token: CsrfToken = None,
) -> RedirectResponse:
    check_csrf(session, csrf_token)
    recorded = {"approve": "approved", "reject": "rejected"}.get(decision)
    if recorded is None or not FLAG_ID.fullmatch(flag_id):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "decide approve or reject on a flag id")
    with parts.warehouse.cursor() as cur:
        flag = queries.risk_flag(cur, flag_id)
    if flag is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no risk flag {flag_id} in the published warehouse")
    try:  # the store `attro review` uses
        record_decision(parts.settings, flag_id, recorded, note.strip() or None, flag=flag)
    except ReviewError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None
    return RedirectResponse(f"/admin/review?done={flag_id}:{recorded}", status.HTTP_303_SEE_OTHER)


# -- affiliates, statements and their files ----------------------------------------------------------


@router.get("/affiliates")
def affiliates_page(request: Request, parts: Parts, session: AdminSession) -> HTMLResponse:
    with parts.warehouse.cursor() as cur:
        found = queries.affiliates(cur)
    return _render(parts, request, "affiliates", session, affiliates=found, portal_link=None)


@router.post("/affiliates/{affiliate_id}/portal-link")
def new_portal_link(
    affiliate_id: str,
    request: Request,
    parts: Parts,
    session: AdminSession,
    program: ProgramDep,
    days: Annotated[int, Form()] = DEFAULT_DAYS,
    csrf_token: CsrfToken = None,
) -> HTMLResponse:
    check_csrf(session, csrf_token)
    if all(a.id != affiliate_id for a in program.affiliates):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no affiliate {affiliate_id!r} in the program file")
    try:
        token = make_token(parts.signing_key(), affiliate_id, days)
    except PortalLinkError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    with parts.warehouse.cursor() as cur:
        found = queries.affiliates(cur)
    # without ATTRO_WEB_URL, where the admin reached this page (not the default port 8001 when `attro web
    # --port` is another): affiliates reach the portal where the admin does
    base = parts.settings.web_url if "web_url" in parts.settings.model_fields_set else str(request.base_url)
    link = {"affiliate_id": affiliate_id, "days": days, "url": portal_url(base, token)}
    return _render(parts, request, "affiliates", session, affiliates=found, portal_link=link)


@router.get("/statements")
def statements_page(
    request: Request, parts: Parts, session: AdminSession, period: str | None = None
) -> HTMLResponse:
    with parts.warehouse.cursor() as cur:
        periods = queries.periods(cur)
        chosen = period if period in periods else (periods[0] if periods else None)
        found = queries.statements(cur, chosen) if chosen else []
    closed = closed_at(parts.settings)
    return _render(
        parts,
        request,
        "statements",
        session,
        periods=periods,
        period=chosen,
        statements=found,
        closed=closed,
        commission_formats=downloads.COMMISSION_FORMATS,
        payout_formats=downloads.PAYOUT_FORMATS,
    )


@router.get("/exports/commissions/{period}/{fmt}")
def commission_download(period: str, fmt: str, parts: Parts, session: AdminSession) -> Response:
    if fmt not in downloads.COMMISSION_FORMATS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such format")
    make = downloads.commission_export  # a bad period is refused on the page, like any other reason
    back = f"/admin/statements?period={period}"
    return downloads.served(status.HTTP_409_CONFLICT, back, make, parts.settings, period, fmt)


@router.get("/exports/payouts/{period}/{fmt}")
def payout_download(period: str, fmt: str, parts: Parts, session: AdminSession) -> Response:
    if fmt not in downloads.PAYOUT_FORMATS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such format")
    back = f"/admin/statements?period={period}"  # a bad period is refused on the page, like any other
    return downloads.served(
        status.HTTP_409_CONFLICT, back, downloads.payout_export, parts.settings, period, fmt
    )


# -- health ----------------------------------------------------------------------------------------


@router.get("/health")
def health_page(request: Request, parts: Parts, session: AdminSession) -> HTMLResponse:
    facts = health(parts.settings, datetime.now(UTC))
    try:
        with parts.warehouse.cursor() as cur:
            counts = queries.health_counts(cur)
    except WarehouseMissing:
        counts = None  # the page still says when the last run was and what waits in the landing zone
    return _render(parts, request, "health", session, health=facts, counts=counts)
