"""`attro demo`: a realistic affiliate program over 14 months, driven through the real receiver over HTTP.

Visitors click tracking links (live `/r/<code>` redirects now, older clicks imported from edge logs
through `POST /api/clicks`), Stripe delivers signed webhooks for one-time Checkout payments, Payment
Link purchases, subscriptions with monthly renewals and an upgrade, payments without a click, and a
test-mode purchase — some twice, all out of order. Then the pipeline runs, a summary is printed and
last month's statement is exported.
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import duckdb
import httpx

from core.program import ProgramError, load_program
from core.settings import Settings
from models.money import format_minor
from simulator.dates import add_months
from simulator.launcher import ReceiverProcess
from simulator.stripe import BASIL, LEGACY, StripeSim, deliveries, signed_request

DEMO_LINKS = ("jane-pro", "omar-all", "lena-ebook")
_MARKER = ".attro-demo"


class DemoError(RuntimeError):
    pass


# Kept across demo runs: `attro web`'s signing key (a portal link the last demo printed stays valid)
# and the sessions signed out with it.
_KEPT = frozenset({"web_signing.key", "web_signed_out.json", "web_signed_out.json.lock", "secrets.lock"})


# The program file the demo's story is written for (its links, offers and codes), in the repository.
SHIPPED_PROGRAM = Path(__file__).resolve().parents[1] / "data" / "program.toml"


def prepare_data_dir(settings: Settings) -> None:
    """The demo owns its data dir: refuse one holding data it did not write (no marker, or files the
    marker's list of what the last demo wrote does not name: a receiver's webhooks, a closed month, a
    review decision, a stored secret), else start from empty."""
    data = settings.data_dir
    landed = any(
        folder.exists() and any(path.is_file() for path in folder.rglob("*"))
        for folder in (settings.landing_dir, settings.lake_dir)
    )
    marker = data / _MARKER
    if landed and not marker.exists():
        raise DemoError(
            f"{data} already holds landed data that the demo did not write; "
            "point ATTRO_DATA_DIR at an empty folder to run the demo"
        )
    if foreign := _not_written_by_the_demo(settings, marker):
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise DemoError(
            f"{data} holds data the last demo did not write ({shown}); a demo would delete it: "
            "point ATTRO_DATA_DIR at an empty folder to run the demo"
        )
    # Everything a run, the receiver or an export writes: a lake left behind would be loaded again
    # under the new story's landing, and the second demo would count every payment twice.
    for folder in _written_dirs(settings):
        if folder == settings.state_dir and folder.exists():
            for path in folder.iterdir():
                if path.name not in _KEPT:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
            continue
        shutil.rmtree(folder, ignore_errors=True)
    settings.warehouse_path.unlink(missing_ok=True)
    data.mkdir(parents=True, exist_ok=True)
    # no list until the demo ends: one stopped half way (Ctrl-C, a failed run) wrote all there is
    _write_marker(settings, None)


def _own_files(settings: Settings) -> dict[str, int]:
    """Files a person's work lives in (landing, state), by path under the data dir: size. Exports are
    not: made from this data, they can be made again (and go with the data they came from)."""
    found = {}
    for folder in (settings.landing_dir, settings.state_dir):
        for path in sorted(folder.rglob("*")) if folder.exists() else []:
            if path.is_file() and path.name not in _KEPT:
                found[str(path.relative_to(settings.data_dir))] = path.stat().st_size
    return found


# What a demo writes under state/ (besides _KEPT): all a marker from before the list was kept can vouch for.
_DEMO_STATE = frozenset({"ip_hash_salt", "offer_terms.jsonl", "code_owners.jsonl"})


def _not_written_by_the_demo(settings: Settings, marker: Path) -> list[str]:
    try:
        written = json.loads(marker.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        # No marker (landed data is checked apart), or one from an earlier release, before the list was
        # kept (its landing data is the demo's): a closed month, a decision or a stored secret never is.
        return [
            path
            for path in _own_files(settings)
            if path.startswith("state/") and Path(path).name not in _DEMO_STATE
        ]
    if written is None:  # a demo that did not finish: everything there is its own
        return []
    return [path for path, size in _own_files(settings).items() if written.get(path) != size]


def record_written(settings: Settings) -> None:
    """Say in the marker what this demo wrote, so the next one deletes nothing else."""
    _write_marker(settings, _own_files(settings))


def _write_marker(settings: Settings, files: dict[str, int] | None) -> None:
    payload = {"written_by": "attro demo (reset on each run)", "files": files}
    (settings.data_dir / _MARKER).write_text(json.dumps(payload, indent=1) + "\n")


def _written_dirs(settings: Settings) -> list[Path]:
    return [
        settings.landing_dir,
        settings.lake_dir,
        settings.build_dir,
        settings.exports_dir,
        settings.state_dir,
        settings.monitoring_dir,
    ]


class Story:
    """Builds the program's history: clicks to import or make live, and Stripe events to deliver."""

    def __init__(self, now: datetime, seed: int) -> None:
        self.now = now
        self.rng = random.Random(seed)
        self.sim = StripeSim(seed=seed, api_version=BASIL, livemode=True)
        self.events: list[dict[str, Any]] = []
        self.edge_clicks: list[dict[str, Any]] = []  # imported via POST /api/clicks
        self.notes: list[str] = []

    def edge_click(
        self, link_code: str, at: datetime, source: str = "newsletter", medium: str = "affiliate"
    ) -> int:
        """An older click from edge logs; returns its index (the id comes back from the API)."""
        self.edge_clicks.append(
            {
                "link_code": link_code,
                "clicked_at": at.isoformat().replace("+00:00", "Z"),
                "ip": f"203.0.113.{self.rng.randint(1, 254)}",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
                "referer": "https://blog.example/review",
                "utm": {"source": source, "medium": medium},
            }
        )
        return len(self.edge_clicks) - 1

    def add(self, flow: Any) -> Any:
        self.events.extend(flow.events)
        return flow


def _historic_story(story: Story, click_ids: list[str], clicks_at: list[datetime]) -> None:
    """Payments made over the past 14 months, referring to imported clicks by index."""
    now, sim = story.now, story.sim
    start = add_months(now, -14).replace(hour=10, minute=0, second=0, microsecond=0)

    # Jane (20% for 12 months): a $99/month subscriber since 14 months ago. The merchant's
    # endpoint was on API 2020-03-02 for the first 6 months, then upgraded to basil.
    sub_a = story.add(
        sim.subscription_checkout(
            clicks_at[0] + timedelta(hours=2),
            9900,
            click_id=click_ids[0],
            email="ana@customer.example",
            api_version=LEGACY,
        )
    ).sub
    a_start = clicks_at[0] + timedelta(hours=2)
    for month in range(1, 15):
        at = add_months(a_start, month) + timedelta(hours=1)
        if at >= now:
            break
        renewal = story.add(sim.renewal(sub_a, at, api_version=LEGACY if month < 6 else BASIL))
        if month == 8:  # the card holder disputes this renewal, and the merchant wins
            story.add(sim.dispute(renewal, at + timedelta(days=6), outcome="won"))

    # Jane: a $49/month subscriber (click id in subscription metadata) who upgrades to $99.
    flow = story.add(
        sim.subscription_checkout(
            clicks_at[1] + timedelta(days=3),
            4900,
            click_id=click_ids[1],
            via="subscription_metadata",
            email="ben@customer.example",
        )
    )
    sub_b, b_start = flow.sub, clicks_at[1] + timedelta(days=3)
    story.add(sim.renewal(sub_b, add_months(b_start, 1) + timedelta(hours=1)))
    story.add(
        sim.upgrade(
            sub_b,
            add_months(b_start, 1) + timedelta(days=12),
            prorated_amount_minor=3267,
            new_amount_minor=9900,
        )
    )
    for month in range(2, 6):
        at = add_months(b_start, month) + timedelta(hours=1)
        if at < now:
            renewal = story.add(sim.renewal(sub_b, at))
            if month == 3:  # a disputed renewal the merchant loses
                story.add(sim.dispute(renewal, at + timedelta(days=9), outcome="lost"))

    # Omar (10% lifetime): one-time Checkout purchases with the click id in metadata.
    for i, amount in ((2, 12900), (3, 4500)):
        purchase = story.add(
            sim.one_time_checkout(
                clicks_at[i] + timedelta(hours=5),
                amount,
                click_id=click_ids[i],
                email=f"buyer{i}@customer.example",
            )
        )
        if i == 2:  # two partial refunds: one item returned, then a goodwill credit
            story.add(sim.refund(purchase, clicks_at[i] + timedelta(days=8), 4300))
            story.add(sim.refund(purchase, clicks_at[i] + timedelta(days=20), 1000))
    # ... one of those customers comes back two months later without a click: customer attribution.
    returning = story.events[-1]["data"]["object"]["customer"]
    story.add(sim.one_time_checkout(clicks_at[3] + timedelta(days=60), 8000, customer=returning))
    # ... and a yearly-ish subscriber on his lifetime offer, renewing monthly.
    sub_c = story.add(
        sim.subscription_checkout(
            clicks_at[4] + timedelta(hours=1), 2900, click_id=click_ids[4], email="cleo@customer.example"
        )
    ).sub
    for month in range(1, 10):
        at = add_months(clicks_at[4] + timedelta(hours=1), month) + timedelta(hours=1)
        if at < now:
            story.add(sim.renewal(sub_c, at))

    # Lena (flat 5 USD per e-book): Payment Link purchases (client_reference_id from the URL).
    for i in (5, 6, 7):
        sale = story.add(
            sim.one_time_checkout(
                clicks_at[i] + timedelta(minutes=30), 1900, click_id=click_ids[i], payment_link=True
            )
        )
        if i == 6:  # refunded in full within the holding period: the commission is void
            story.add(sim.refund(sale, clicks_at[i] + timedelta(days=3)))
    # ... a euro purchase: a flat USD offer does not pay on EUR sales.
    story.add(
        sim.one_time_checkout(
            clicks_at[8] + timedelta(hours=1), 1900, "eur", click_id=click_ids[8], payment_link=True
        )
    )

    # Jane: a click 90 days before the purchase: outside her 60-day window.
    story.add(sim.one_time_checkout(clicks_at[9] + timedelta(days=90), 9900, click_id=click_ids[9]))

    # Payments nobody referred.
    for k in range(4):
        story.add(sim.one_time_checkout(start + timedelta(days=40 + 70 * k), 2500 + 500 * k))
    story.add(sim.direct_payment_intent(start + timedelta(days=200), 7700))

    # Two sales the risk rules hold for review: one on a paid-ad click of Omar's, one Jane made herself.
    story.add(sim.one_time_checkout(clicks_at[11] + timedelta(hours=1), 4900, click_id=click_ids[11]))
    story.add(
        sim.one_time_checkout(
            clicks_at[12] + timedelta(hours=2), 9900, click_id=click_ids[12], email="jane@example.com"
        )
    )

    # Theo's podcast code, read out on air: two customers type it, one of them subscribes.
    promo = story.add(sim.promotion_code("THEO20", start)).promotion_code
    story.add(sim.use_code(sim.one_time_checkout(now - timedelta(days=50), 4900), promo))
    podcast_sub = story.add(
        sim.use_code(sim.subscription_checkout(now - timedelta(days=45), 2900), promo)
    ).sub
    story.add(sim.renewal(podcast_sub, add_months(now - timedelta(days=45), 1)))
    # A trial sign-up through Jane's link (the customer is created with the click id), paid 3 weeks later.
    signup = story.add(sim.sign_up(clicks_at[13] + timedelta(minutes=10), click_id=click_ids[13]))
    trial = story.add(
        sim.subscription_checkout(
            clicks_at[13] + timedelta(minutes=12), 9900, customer=signup.customer, trial_days=21
        )
    ).sub
    story.add(sim.renewal(trial, clicks_at[13] + timedelta(days=21, minutes=12)))

    # A test-mode purchase through Jane's link: visible, never payable.
    story.add(
        sim.one_time_checkout(
            clicks_at[10] + timedelta(hours=1), 9900, click_id=click_ids[10], livemode=False
        )
    )


def _edge_clicks(story: Story) -> list[datetime]:
    now = story.now
    plan = [
        ("jane-pro", 430),
        ("jane-pro", 160),
        ("omar-all", 300),
        ("omar-all", 250),
        ("omar-all", 280),
        ("lena-ebook", 120),
        ("lena-ebook", 75),
        ("lena-ebook", 33),
        ("lena-ebook", 20),
        ("jane-pro", 200),
        ("jane-pro", 50),
        ("omar-all", 12, "google", "cpc"),  # omar bids on the merchant's brand: paid traffic
        ("jane-pro", 8),  # jane buys through her own link: a self-referral
        ("jane-pro", 40),  # a visitor signs up for a trial, and pays three weeks later (a lead)
    ]
    times = []
    for code, days_ago, *utm in plan:
        at = (now - timedelta(days=days_ago)).replace(microsecond=0)
        story.edge_click(code, at, *utm)
        times.append(at)
    for k in range(25):  # clicks that never convert
        code = DEMO_LINKS[k % 3]
        story.edge_click(code, (now - timedelta(days=story.rng.randint(1, 400))).replace(microsecond=0))
    return times


def _live_clicks(client: httpx.Client, rng: random.Random) -> dict[str, list[str]]:
    """Visitors following tracking links right now: the receiver sets the cookie and redirects."""
    made: dict[str, list[str]] = {code: [] for code in DEMO_LINKS}
    agents = ["Mozilla/5.0 (Macintosh) Safari/605.1.15", "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0"]
    for k in range(18):
        code = DEMO_LINKS[k % 3]
        response = client.get(
            f"/r/{code}",
            params={"utm_source": rng.choice(["youtube", "blog", "x"]), "utm_campaign": "autumn"},
            headers={"User-Agent": rng.choice(agents), "X-Forwarded-For": f"198.51.100.{k + 1}"},
        )
        if response.status_code != 302:
            raise DemoError(f"/r/{code} answered {response.status_code}")
        query = parse_qs(urlsplit(response.headers["location"]).query)
        made[code].append(query["rd_click_id"][0])
    client.get("/r/jane-pro", headers={"User-Agent": "Googlebot/2.1 (+http://www.google.com/bot.html)"})
    return made


def _deliver(receiver: ReceiverProcess, events: list[dict[str, Any]], rng: random.Random) -> tuple[int, int]:
    """Deliver like Stripe: signed at delivery time, ~10% twice, in shuffled order, 8 at a time."""
    plan = deliveries(events, rng=rng, duplicate_share=0.1, shuffle=True)

    def send(event: dict[str, Any]) -> int:
        body, headers = signed_request(event, receiver.secret)
        return client.post("/api/webhooks/stripe", content=body, headers=headers).status_code

    with httpx.Client(base_url=receiver.url, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, plan))
    bad = [s for s in statuses if s != 200]
    if bad:
        raise DemoError(f"{len(bad)} webhook deliveries were refused (statuses {sorted(set(bad))})")
    return len(plan), len(plan) - len(events)


def _query(settings: Settings, sql: str) -> list[tuple]:
    """Rows of a read-only query on the published warehouse, as an analyst would run it."""
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")
        return con.execute(sql).fetchall()
    finally:
        con.close()


SUMMARY_SQL = """
            with c as (
                select affiliate_id, count(*) filter (not is_bot) as clicks from marts.clicks group by 1
            ), v as (
                select affiliate_id, currency,
                       count(*) filter (conversion_type = 'initial') as customers,
                       count(*) as payments,
                       sum(amount_minor) as revenue_minor
                from marts.conversions where livemode group by 1, 2
            ), l as (
                select affiliate_id, currency,
                       sum(amount_minor) filter (kind = 'commission') as earned_minor,
                       sum(amount_minor) filter (kind <> 'commission') as taken_back_minor,
                       sum(amount_minor) as net_minor,
                       sum(amount_minor) filter (status = 'approved') as approved_minor
                from marts.commission_lines
                where livemode and status not in ('held', 'void')  -- as the statements count them
                group by 1, 2
            )
            select a.affiliate_id, coalesce(c.clicks, 0), coalesce(v.customers, 0), coalesce(v.payments, 0),
                   v.currency, coalesce(v.revenue_minor, 0), coalesce(l.earned_minor, 0),
                   coalesce(l.taken_back_minor, 0), coalesce(l.net_minor, 0), coalesce(l.approved_minor, 0)
            from program.affiliates a
            left join c using (affiliate_id)
            left join v using (affiliate_id)
            left join l on l.affiliate_id = a.affiliate_id and l.currency = v.currency
            order by 1, 5
"""
MONEY_BACK_SQL = (
    "select kind, count(*), -sum(amount_minor) from marts.payment_adjustments "
    "where livemode and currency = 'usd' group by 1 order by 1"
)
TEST_MODE_SQL = "select count(*) from marts.conversions where not livemode"
UNATTRIBUTED_SQL = "select reason, count(*) from marts.unattributed_payments group by 1 order by 2 desc, 1"
METHODS_SQL = (
    "select attribution_method, count(*) from marts.conversions where conversion_type = 'initial'"
    " and livemode group by 1 order by 2 desc, 1"
)
FLAGS_SQL = (
    "select rule, affiliate_id, count(*) from marts.risk_flags where decision = 'open'"
    " and conversion_id is not null group by 1, 2 order by 1, 2"
)
HELD_SQL = (
    "select currency, sum(held_minor) from marts.affiliate_statements"
    " where held_minor <> 0 group by 1 order by 1"
)


def run_demo(settings: Settings, seed: int = 7, web: bool = False) -> int:
    from attro.dagster_record import record_in_dagster
    from pipelines.exports import export_commissions
    from pipelines.run import run_pipeline

    started = time.monotonic()
    copied = settings.program is None and not settings.program_path.exists() and SHIPPED_PROGRAM.is_file()
    if copied:
        # a data dir of its own (ATTRO_DATA_DIR) starts with the program the demo's story is written for
        settings.program_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHIPPED_PROGRAM, settings.program_path)
        print(f"attro demo: copied the demo program file {SHIPPED_PROGRAM} to {settings.program_path}")
    try:
        program = load_program(settings.program_path)
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    missing = [code for code in DEMO_LINKS if program.link(code) is None]
    if missing:
        print(
            f"error: the demo needs the shipped demo program file (links {', '.join(missing)} "
            f"are not in {settings.program_path})",
            file=sys.stderr,
        )
        return 2
    try:
        prepare_data_dir(settings)
    except DemoError as exc:
        if copied:  # a data dir the demo refuses keeps nothing of it
            settings.program_path.unlink(missing_ok=True)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    story = Story(now, seed)
    secret = "whsec_demo_" + secrets.token_hex(16)
    token = secrets.token_urlsafe(24)
    print(f"attro demo (seed {seed}): data in {settings.data_dir}")
    receiver = ReceiverProcess(settings, secret, token, env={"ATTRO_MAX_CLICK_AGE_DAYS": "800"})
    with receiver:  # the story imports 14 months of edge-log clicks: a longer backfill horizon
        print(f"  receiver listening on {receiver.url}")
        with httpx.Client(base_url=receiver.url, timeout=30) as client:
            clicks_at = _edge_clicks(story)
            response = client.post(
                "/api/clicks", json=story.edge_clicks, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code != 200:
                raise DemoError(f"POST /api/clicks answered {response.status_code}: {response.text}")
            click_ids = response.json()["click_ids"]
            print(f"  imported {len(click_ids)} older clicks from edge logs (POST /api/clicks)")
            live = _live_clicks(client, story.rng)
            print(f"  {sum(map(len, live.values())) + 1} visitors followed tracking links (GET /r/<code>)")
        _historic_story(story, click_ids, clicks_at)
        # Today: three of those visitors buy a few minutes after clicking.
        bought = datetime.now(UTC) + timedelta(minutes=3)
        story.add(story.sim.subscription_checkout(bought, 9900, click_id=live["jane-pro"][0]))
        story.add(story.sim.one_time_checkout(bought, 4900, click_id=live["omar-all"][0]))
        story.add(
            story.sim.one_time_checkout(bought, 1900, click_id=live["lena-ebook"][0], payment_link=True)
        )
        sent, duplicates = _deliver(receiver, story.events, story.rng)
        print(f"  delivered {sent} signed webhooks ({duplicates} duplicates, shuffled order)")
    print("  running the pipeline (dlt → DuckDB → Polars models → published warehouse)…", flush=True)
    record_in_dagster(run_pipeline(settings), "attro demo")
    last_month = (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    export = export_commissions(settings, last_month, "csv")
    record_written(settings)

    print()
    header = (
        f"{'affiliate':<10} {'clicks':>6} {'customers':>9} {'payments':>8} {'revenue':>14} "
        f"{'commission':>10} {'taken back':>10} {'net':>9} {'approved':>9}"
    )
    print(header)
    print("-" * len(header))
    for aff, clicks, customers, payments, currency, revenue, earned, taken, net, approved in _query(
        settings, SUMMARY_SQL
    ):
        cur = currency or "usd"
        revenue_text = f"{format_minor(revenue, cur)} {cur}"
        print(
            f"{aff:<10} {clicks:>6} {customers:>9} {payments:>8} {revenue_text:>14} "
            f"{format_minor(earned, cur):>10} {format_minor(taken, cur):>10} {format_minor(net, cur):>9} "
            f"{format_minor(approved, cur):>9}"
        )
    print()
    back = ", ".join(
        f"{n} {kind} {format_minor(t, 'usd')}" for kind, n, t in _query(settings, MONEY_BACK_SQL)
    )
    print(f"money back (usd): {back}")
    test_mode = _query(settings, TEST_MODE_SQL)[0][0]
    print(f"test-mode conversions: {test_mode} (visible in marts.conversions, never payable)")
    print(
        "unattributed payments: "
        + ", ".join(f"{reason} {n}" for reason, n in _query(settings, UNATTRIBUTED_SQL))
    )
    methods = ", ".join(f"{method} {n}" for method, n in _query(settings, METHODS_SQL))
    print(f"new customers by how they were attributed: {methods}")
    print("  (theo's podcast code THEO20, no click needed; a trial sign-up of jane's, paid 3 weeks later)")
    flags = ", ".join(f"{rule} ({affiliate})" for rule, affiliate, _n in _query(settings, FLAGS_SQL))
    held = ", ".join(f"{format_minor(amount, cur)} {cur}" for cur, amount in _query(settings, HELD_SQL))
    print(f"held for review: {flags or 'nothing'}; {held or 'no commission'} held (attro review list --open)")
    print(f"warehouse: {settings.warehouse_path}  (duckdb -readonly {settings.warehouse_path})")
    print(f"export of {last_month}: " + ", ".join(str(p) for p in export.files))
    print(f"done in {time.monotonic() - started:.1f} s")
    return _web(settings, serve=web)


def _web(settings: Settings, serve: bool) -> int:
    """Say how to browse the demo's data in `attro web` (admin and a portal link); with `serve`, run it
    here until Ctrl-C."""
    from web.keys import signing_key
    from web.passwords import hash_password
    from web.portal_links import make_token, portal_url

    password = "demo-" + secrets.token_hex(4)
    link = portal_url(settings.web_url, make_token(signing_key(settings), "jane", days=7))
    print()
    if not serve:
        print(
            "browse it: `attro demo --web` serves the admin and the portal on this data at"
            f" {settings.web_url} (ATTRO_WEB_URL moves it)"
        )
        print("  (or ATTRO_ADMIN_PASSWORD=<hash from `attro web hash-password`> attro web)")
        print(f"  jane's portal link, valid 7 days once attro web runs: {link}")
        return 0
    import uvicorn

    from receiver.serving import uvicorn_options
    from web.app import create_app

    # plain http on localhost for the demo: cookies without Secure, the password hashed here
    web_settings = settings.model_copy(
        update={"admin_password": hash_password(password), "cookie_secure": False}
    )
    print(f"admin:  {settings.web_url}/admin  (password {password})")
    print(f"portal: {link}  (jane)")
    print("attro web is running; Ctrl-C stops it", flush=True)
    url = urlsplit(settings.web_url)
    options = uvicorn_options(web_settings)
    uvicorn.run(
        create_app(web_settings),
        host=url.hostname or "127.0.0.1",
        port=url.port or 8001,
        log_level="warning",
        **options,
    )
    return 0
