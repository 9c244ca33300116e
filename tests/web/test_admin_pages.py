"""What the merchant does on /admin: filter conversions and read their ledger lines, see why payments
went unattributed, decide risk flags (the same decision store as `attro review`, applied on the next
run), download a month's files, read the pipeline's health; and the pages follow each new publish."""

from __future__ import annotations

import io
import re
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from fastapi.testclient import TestClient

from attro.closing import close_period
from core.click_ids import new_click_id
from core.contracts import CONSUMED_EVENT_TYPES
from core.refusals import RefusalCounter
from core.settings import Settings
from core.state.review_decisions import load_decisions
from pipelines.exports import export_commissions
from pipelines.payouts import export_payouts
from pipelines.run import run_pipeline
from pipelines.stripe_sync import sync_events
from simulator.landing import LandingZone
from simulator.stripe import StripeSim
from tests.support.clock import utc
from tests.support.fake_stripe import FakeStripe, serve
from tests.support.sites import NOW1, landed_events, with_stripe_api
from tests.support.web import ADMIN_PASSWORD, Web, csrf_token, make_web, web_settings
from web.app import create_app
from web.rendering import money

NOW2 = datetime(2026, 4, 20, 12, tzinfo=UTC)  # March over, its held line's flag still open
SYNC_KEY = "rk_test_51AttroWebHealth0000000001"


def test_conversions_filter_by_affiliate_offer_month_status_and_mode(web: Web, web_site) -> None:
    admin = web.admin()
    everything = admin.get("/admin/conversions").text
    assert "subscription_metadata" in everything or "click_metadata" in everything  # attribution method
    assert "20% of 99.00 usd" in everything  # a ledger line's rule sentence, with decimals
    omar = admin.get("/admin/conversions", params={"affiliate": "omar"}).text
    count = web_site.query("select count(*) from marts.conversions where affiliate_id = 'omar'")[0][0]
    assert omar.count('class="card conversion"') == count
    assert "(link jane-pro)" not in omar and "(link omar-all)" in omar
    january = admin.get("/admin/conversions", params={"month": "2026-01", "offer": "pro-20"}).text
    assert january.count('class="card conversion"') == 1  # jane's subscription, Jan 10
    held = admin.get("/admin/conversions", params={"status": "held"}).text
    assert held.count('class="card conversion"') == 1  # the self-referral sale
    assert "status-held" in held
    assert "No conversions match" in admin.get("/admin/conversions", params={"mode": "test"}).text


def test_pages_show_times_and_months_in_utc_whatever_the_servers_time_zone(web_site, monkeypatch) -> None:
    sale_at, month = web_site.query(
        "select strftime(occurred_at at time zone 'UTC', '%Y-%m-%d %H:%M'), "
        "strftime(occurred_at at time zone 'UTC', '%Y-%m') from marts.conversions "
        "where affiliate_id = 'omar' order by occurred_at limit 1"
    )[0]
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a time of day and often a date apart
    time.tzset()
    try:
        admin = make_web(web_site).admin()
        page = admin.get("/admin/conversions", params={"affiliate": "omar", "month": month}).text
    finally:
        monkeypatch.undo()
        time.tzset()

    assert f"<span>{sale_at}</span>" in page
    assert f'<option value="{month}" selected' in page


def test_conversions_are_paged(web: Web) -> None:
    admin = web.admin()
    first = admin.get("/admin/conversions").text
    if 'rel="next"' not in first:  # the story has fewer conversions than a page: page 2 is empty
        assert "No conversions match" in admin.get("/admin/conversions?page=2").text


def test_months_and_pages_at_the_edge_of_the_calendar_show_an_empty_page_not_an_error(web: Web) -> None:
    admin = web.admin()
    for month in ("0000-01", "0001-01", "9999-12"):
        conversions = admin.get("/admin/conversions", params={"month": month})
        unattributed = admin.get("/admin/unattributed", params={"month": month})
        assert (conversions.status_code, unattributed.status_code) == (200, 200), month
        assert "No conversions match" in conversions.text
    far = admin.get("/admin/conversions", params={"page": 400_000_000_000_000_000})
    assert far.status_code == 200 and "No conversions match" in far.text


def test_unattributed_payments_say_why_and_what_to_do(web: Web, web_site) -> None:
    text = web.admin().get("/admin/unattributed").text
    assert web_site.ids["no_click_charge"] in text
    assert "No click id" in text and "What to do:" in text
    assert "Passing the click id into Stripe" in text


def test_approving_a_flag_records_it_where_attro_review_does_and_the_next_run_applies_it(own_web) -> None:
    web = own_web()
    admin = web.admin()
    page = admin.get("/admin/review").text
    assert "apply on the next run" in page
    flag_id = page.split('class="card flag" id="')[1].split('"')[0]
    answer = admin.post(
        f"/admin/review/{flag_id}",
        data={"decision": "approve", "note": "her own test purchase, agreed", "csrf_token": csrf_token(page)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    after = admin.get(answer.headers["location"]).text
    assert "It applies on the next run" in after
    decisions = load_decisions(web.settings)
    assert decisions.select("flag_id", "decision", "note").rows() == [
        (flag_id, "approved", "her own test purchase, agreed")
    ]
    run_pipeline(web.settings, now=NOW1)
    assert "0 open" in admin.get("/admin/review").text  # the new snapshot, without a restart
    assert "approved" in admin.get("/admin/review?show=all").text
    # the notice takes only what the redirect says: a flag id alone was a 500, other text was shown
    for done in (flag_id, f"{flag_id}:you have been fired", "rf_nothex:approved"):
        page = admin.get("/admin/review", params={"done": done})
        assert page.status_code == 200 and "Recorded:" not in page.text, done


def _row(html: str, label: str, first: str) -> list[str]:
    """The cells of the table row whose `label` cell reads `first` (a row per affiliate or month)."""
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        if re.search(rf'data-label="{label}"[^>]*>(<strong>)?{re.escape(first)}\b', row):
            return cells
    raise AssertionError(f"no row {label} = {first}")


def test_money_a_closed_month_froze_as_held_is_no_longer_held_once_its_flag_is_decided(own_web) -> None:
    web = own_web()
    admin = web.admin()
    flag_id = admin.get("/admin/review").text.split('class="card flag" id="')[1].split('"')[0]
    close_period(web.settings, "2026-03", force=True, now=NOW2)
    run_pipeline(web.settings, now=NOW2)
    # open: the frozen 19.80 is still held, on every page that says so
    assert _row(admin.get("/admin/affiliates").text, "Affiliate", "Jane")[5] == "19.80 USD"
    march = _row(web.portal("jane").get("/portal").text, "Month", "2026-03")
    assert march[4] == "19.80 USD"
    assert "released since" not in web.portal("jane").get("/portal/conversions").text
    still_held = web.portal("jane").get("/portal").text.split("<h2>Statements</h2>")[1]
    assert _row(still_held, "Month", "2026-03")[5] == "19.80 USD"
    assert "released since" not in admin.get("/admin/conversions", params={"status": "held"}).text

    page = admin.get("/admin/review").text
    admin.post(f"/admin/review/{flag_id}", data={"decision": "approve", "csrf_token": csrf_token(page)})
    run_pipeline(web.settings, now=NOW2)

    assert _row(admin.get("/admin/affiliates").text, "Affiliate", "Jane")[5] == "0.00 USD"
    decided = admin.get("/admin/review?show=all").text.split(f'id="{flag_id}"')[1].split("</li>")[0]
    assert "nothing held" in decided
    portal = web.portal("jane").get("/portal").text
    march, april = _row(portal, "Month", "2026-03"), _row(portal, "Month", "2026-04")
    assert march[4] == "—"  # the frozen line holds nothing now ...
    assert (april[1], april[3]) == ("0", "19.80 USD")  # ... it is owed in April, no new sale there
    # the sale's frozen line says it is no longer waiting for review (audit: it read "held" beside its
    # approved correction, under "held ones wait for the merchant's review")
    for page in (web.portal("jane").get("/portal/conversions").text, admin.get("/admin/conversions").text):
        assert page.count("when 2026-03 closed; released since") == 1
        # its correction says so in words (UI audit: "correction of cv_…:commission (frozen 0.00, …)")
        assert page.count("released: held when 2026-03 closed; 20% of 99.00 usd") == 1
        assert "frozen 0.00" not in page
    # each month's total is what its statement nets: held money is in none until released
    statements = web.portal("jane").get("/portal").text.split("<h2>Statements</h2>")[1]
    row = _row(statements, "Month", "2026-03")
    assert row[2] == march[5]  # net, after the opening balance
    # the closed month's frozen held amount says it was released since (UI audit: 19.80 held here, "—"
    # in the earnings table above, "nothing held" on the Review page)
    assert row[5] == "19.80 USD released since"
    admin_march = admin.get("/admin/statements", params={"period": "2026-03"}).text
    assert _row(admin_march, "Affiliate", "jane")[6] == "19.80 USD released since"


def test_a_closed_months_held_line_rejected_since_says_so_not_released(own_web) -> None:
    # Review: "released since" meant only "no open flag holds it", which a rejection is too.
    web = own_web()
    admin = web.admin()
    flag_id = admin.get("/admin/review").text.split('class="card flag" id="')[1].split('"')[0]
    close_period(web.settings, "2026-03", force=True, now=NOW2)
    page = admin.get("/admin/review").text
    admin.post(f"/admin/review/{flag_id}", data={"decision": "reject", "csrf_token": csrf_token(page)})
    run_pipeline(web.settings, now=NOW2)

    for page in (web.portal("jane").get("/portal/conversions").text, admin.get("/admin/conversions").text):
        assert page.count("when 2026-03 closed; rejected since") == 1
        assert "released" not in page
    statements = web.portal("jane").get("/portal").text.split("<h2>Statements</h2>")[1]
    assert _row(statements, "Month", "2026-03")[5] == "19.80 USD rejected since"


def test_a_decision_on_an_unknown_flag_or_with_a_bad_verb_is_refused(own_web) -> None:
    web = own_web()
    admin = web.admin()
    token = csrf_token(admin.get("/admin/review").text)
    assert (
        admin.post(
            "/admin/review/rf_0000000000000000", data={"decision": "approve", "csrf_token": token}
        ).status_code
        == 404
    )
    assert (
        admin.post("/admin/review/not-a-flag", data={"decision": "approve", "csrf_token": token}).status_code
        == 400
    )
    assert load_decisions(web.settings).is_empty()


def test_statements_mark_closed_months_and_download_the_exports(
    closed_jan_site, copy_site, tmp_path: Path
) -> None:
    site = copy_site(closed_jan_site)
    web = make_web(site)
    admin = web.admin()
    page = admin.get("/admin/statements", params={"period": "2026-01"}).text
    assert "closed 2026-03-20" in page
    # every column the net is made of (gross + reversals + reinstated = net), on every row
    assert page.count('data-label="Reinstated"') == page.count('data-label="Net"') > 0
    # Audit: a row read "Net 17.00 / Approved 17.00 / Payable 0" with no visible reason (a debt carried)
    assert (
        page.count('data-label="Opening"')
        == page.count('data-label="Carried forward"')
        == page.count('data-label="Net"')
    )
    assert "/admin/exports/commissions/2026-01/xlsx" in page
    assert "/admin/exports/payouts/2026-01/csv" in page
    answer = admin.get("/admin/exports/commissions/2026-01/csv")
    assert answer.status_code == 200
    assert 'filename="commissions-2026-01.csv"' in answer.headers["content-disposition"]
    cli = export_commissions(site.settings, "2026-01", "csv", tmp_path)
    assert answer.content == cli.files[0].read_bytes()  # a closed month: byte for byte what the CLI writes
    parquet = admin.get("/admin/exports/commissions/2026-01/parquet")
    assert parquet.headers["content-type"] == "application/zip"  # statement and lines, zipped
    assert admin.get("/admin/exports/commissions/2026-01/xlsx").content[:2] == b"PK"
    assert admin.get("/admin/exports/commissions/2026-01/pdf").status_code == 404
    exports = site.settings.exports_dir
    assert not exports.exists() or not any(exports.iterdir())  # downloads leave nothing under data/exports
    open_month = admin.get("/admin/statements", params={"period": "2026-03"}).text
    assert "open: can still change" in open_month


def test_payout_files_download_as_attro_export_payouts_writes_them(
    closed_jan_site, copy_site, tmp_path: Path
) -> None:
    site = copy_site(closed_jan_site)
    admin = make_web(site).admin()
    cli = export_payouts(site.settings, "2026-01", "csv", tmp_path)
    assert cli.files, "the closed month owes affiliates something"

    answer = admin.get("/admin/exports/payouts/2026-01/csv")

    assert answer.status_code == 200
    assert f'filename="{cli.files[0].name}"' in answer.headers["content-disposition"]
    assert answer.content == cli.files[0].read_bytes()
    refused = admin.get("/admin/exports/payouts/2026-03/csv")  # an open month: its amounts can change
    assert refused.status_code == 409 and "is not closed" in refused.text
    # a page in the browser the button opened, saying why and leading back, not a JSON body
    assert refused.headers["content-type"].startswith("text/html")
    assert 'href="/admin/statements?period=2026-03"' in refused.text
    assert admin.get("/admin/exports/payouts/2026-01/venmo").status_code in (404, 409)
    # a page that says why, not JSON (audit); full-width digits passed `\d` and the download answered 500
    for kind, period in [("commissions", "2026-13"), ("payouts", "2026-13"), ("commissions", "２０２６-12")]:
        bad = admin.get(f"/admin/exports/{kind}/{period}/csv")
        assert bad.headers["content-type"].startswith("text/html"), kind
        assert f"period must be YYYY-MM (e.g. 2026-10), got &#x27;{period}&#x27;" in bad.text, kind
    program = site.settings.program_path
    program.write_text(program.read_text().replace('paypal_email = "jane.payouts@example.com"', ""))
    nobody = admin.get("/admin/exports/payouts/2026-01/paypal")  # payable, but not through PayPal
    assert nobody.status_code == 409 and "nothing to pay for 2026-01 in the paypal format" in nobody.text
    assert "jane" in nobody.text and "19.80  no paypal_email in the program file</li>" in nobody.text


def test_a_payout_download_says_what_its_files_do_not_pay(closed_jan_site, copy_site, tmp_path: Path) -> None:
    site = copy_site(closed_jan_site)
    admin = make_web(site).admin()
    cli = export_payouts(site.settings, "2026-01", "wise", tmp_path)
    assert cli.files and not cli.left_out.is_empty(), (
        "the demo's closed month pays some but not all through Wise"
    )

    answer = admin.get("/admin/exports/payouts/2026-01/wise")

    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as archive:
        names = archive.namelist()
        report = archive.read("payouts-2026-01-wise.NOT-IN-THE-FILE.txt").decode()
        assert archive.read(cli.files[0].name) == cli.files[0].read_bytes()
    assert sorted(names) == ["payouts-2026-01-wise.NOT-IN-THE-FILE.txt", cli.files[0].name]
    assert report.splitlines()[0].startswith("NOT IN THE FILE")
    assert "jane" in report and "no wise_email in the program file" in report


def test_health_shows_the_last_run_lag_refusals_sync_and_flags(own_web) -> None:
    web = own_web()
    counter = RefusalCounter(web.settings)
    for _ in range(3):
        counter.add("no signature matches a configured webhook secret", 400)
    counter.add("body is not JSON (no low surrogate in string: line 1 column 85)", 400)
    counter.flush()
    admin = web.admin()
    text = admin.get("/admin/health").text
    assert "Last successful run" in text and "ago" in text
    assert "3 × 400 no signature matches a configured webhook secret" in text
    assert "1 × 400 body is not JSON" in text
    assert "no sync has run" in text
    assert "1 self_referral" in text
    # Stripe lists every event landed so far and a sale whose webhooks never arrived
    landed = [e for e in landed_events(web.settings) if e["type"] in CONSUMED_EVENT_TYPES]
    missed = StripeSim(seed=5, livemode=True).one_time_checkout(utc("2026-03-19"), 2500).events
    missed = [e for e in missed if e["type"] in CONSUMED_EVENT_TYPES]
    assert missed
    with serve(FakeStripe(SYNC_KEY, events=landed + missed)) as fake:
        sync_events(with_stripe_api(web.settings, fake.url, SYNC_KEY), since=datetime(2026, 1, 1, tzinfo=UTC))
    text = admin.get("/admin/health").text
    seen = len(landed) + len(missed)
    assert f"{len(missed)} events missed by webhooks, landed by the last sync ({seen} seen" in text


def test_the_pages_follow_each_publish_without_a_restart(own_web) -> None:
    web = own_web()
    admin = web.admin()
    warehouse = web.app.state.parts.warehouse
    before = admin.get("/admin/conversions", params={"affiliate": "lena"}).text.count(
        'class="card conversion"'
    )
    admin.get("/admin/affiliates")
    assert warehouse.opened == 1  # one snapshot for every request so far

    # a new sale of lena's lands and a run publishes a new warehouse file over the old one
    zone = LandingZone(web.settings)
    click = zone.click("lena-ebook", utc("2026-03-18"), new_click_id(utc("2026-03-18")))
    flow = StripeSim(seed=99, livemode=True).one_time_checkout(utc("2026-03-19"), 2500, click_id=click)
    zone.events(flow.events, datetime(2026, 3, 19, 12, tzinfo=UTC))
    run_pipeline(web.settings, now=NOW1)

    after = admin.get("/admin/conversions", params={"affiliate": "lena"}).text.count(
        'class="card conversion"'
    )
    assert after == before + 1
    assert warehouse.opened == 2


def test_the_web_key_appearing_in_state_does_not_make_the_next_run_rebuild(web_site, copy_site) -> None:
    site = copy_site(web_site)  # a copy's files are new to the landing signature (their ctime): settle it
    settings = web_settings(site)
    (settings.state_dir / "web_signing.key").unlink(missing_ok=True)  # as before `attro web` first ran
    run_pipeline(settings, now=NOW1)

    web = make_web(site)
    admin = web.admin()
    token = csrf_token(admin.get("/admin/conversions").text)
    admin.post("/admin/logout", data={"csrf_token": token})  # and a session signed out: web state too

    assert (settings.state_dir / "web_signing.key").exists()
    assert (settings.state_dir / "web_signed_out.json").exists()
    assert run_pipeline(settings, now=NOW1) == {"skipped": True}


def test_the_portal_link_button_links_where_the_admin_is_without_attro_web_url(
    web_site, copy_site, monkeypatch
) -> None:
    # Audit: with `attro web --port 8123` and no ATTRO_WEB_URL, the button made links to port 8001.
    monkeypatch.delenv("ATTRO_WEB_URL", raising=False)
    configured = web_settings(copy_site(web_site))
    settings = Settings(**{k: getattr(configured, k) for k in configured.model_fields_set if k != "web_url"})
    admin = TestClient(create_app(settings), base_url="http://127.0.0.1:8123")
    token = csrf_token(admin.get("/admin/login").text)
    admin.post("/admin/login", data={"password": ADMIN_PASSWORD, "csrf_token": token})

    page = admin.post(
        "/admin/affiliates/jane/portal-link",
        data={"days": "7", "csrf_token": csrf_token(admin.get("/admin/affiliates").text)},
    ).text

    assert "http://127.0.0.1:8123/portal/login?token=" in page


def test_affiliates_show_a_debt_the_latest_statement_carries_forward(closed_jan_site, copy_site) -> None:
    # Audit: the page summed every month's payable (31.70 against 26.60 net earned) and showed a debt
    # carried into the next month nowhere.
    site = copy_site(closed_jan_site)
    # omar's January sale, paid out, refunded in full in February: his 400 comes back as a debt
    refund = site.sim.refund(site.flows["omar_usd"], datetime(2026, 2, 10, 9, tzinfo=UTC), 4000)
    site.land_events(refund.events, datetime(2026, 2, 10, 9, 1, tzinfo=UTC))
    site.run(NOW2)
    with duckdb.connect(str(site.settings.warehouse_path), read_only=True) as con:
        latest = con.execute(
            "select currency, arg_max(carried_forward_minor, period) from marts.affiliate_statements"
            " where affiliate_id = 'omar' group by all order by all"
        ).fetchall()

    page = make_web(site).admin().get("/admin/affiliates").text

    debt = dict(latest)["usd"]
    assert debt < 0  # the refund outweighs what he earned since
    cells = _row(page, "Affiliate", "Omar Haddad")
    assert money(debt, "usd") in cells[6]
    assert money(0, "jpy") in cells[6]
