"""Realistic landing data for a merchant of a given size, fast: a year of Stripe events and clicks.

`generate(Merchant(events=300_000), landing_dir)` lands about that many distinct Stripe events and
1.1× as many tracking-link clicks, as the receiver lands them: subscriptions renewing monthly
(checkout.session.completed, invoice.paid, charge.succeeded; invoice.payment_succeeded,
payment_intent.succeeded and invoice_payment.paid once the merchant subscribed to those too),
one-time Checkout and Payment Link purchases, refunds, a few disputes, ~10 % delivered twice, API
2020-03-02 then 2025-03-31 basil, one date folder per day with a few receiver files each. About 75 %
of purchases carry the id of an earlier click on the demo program's links. `append_increment` lands
"+1 %" more (renewals, new purchases and their clicks) as new files for the next day.

Deterministic given the seed. The payloads are StripeSim's: each kind of flow is rendered once and
stamped out with fresh ids and times (simulator/stamping.py).
"""

from __future__ import annotations

import itertools
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from operator import itemgetter
from pathlib import Path
from random import Random

from core.click_ids import new_click_id
from core.program import Link, Program, load_program
from simulator.dates import add_months
from simulator.landing import BROWSER_UA, click_line
from simulator.stamping import (
    CLICK_MARK,
    EMAIL_MARK,
    RECEIVED_MARK,
    RecordingSim,
    Template,
    Unit,
    compile_line,
    fresh_alnum,
    make_template,
)
from simulator.stripe import BASIL, LEGACY, Flow

DEMO_PROGRAM = Path(__file__).resolve().parents[1] / "data" / "program.toml"
DAY = 86_400
DAY_US = DAY * 1_000_000

# The merchant's story (shares of purchases unless said otherwise).
SUBSCRIPTION_SHARE = 0.45
CLICK_SHARE = 0.75  # purchases carrying a click id
UNKNOWN_CLICK_SHARE = 0.01  # ... of which the click never landed
EXPIRED_CLICK_SHARE = 0.03  # ... of which the click is older than the offer's window
TEST_MODE_SHARE = 0.01  # one-time purchases made in test mode
MONTHLY_CHURN = 0.06
REFUND_SHARE = 0.03  # of payments
DISPUTE_SHARE = 0.0002  # of payments (the first two eligible ones always get one: lost, then won)
DUPLICATE_SHARE = 0.10  # deliveries Stripe makes twice
CLICKS_PER_EVENT = 1.1
BOT_SHARE = 0.03  # of clicks that convert into nothing
BASIL_FROM, EXTRAS_FROM = 0.35, 0.5  # where in the history the account upgrades / subscribes to more
RECEIVER_FILES_PER_DAY = 3

CORE_TYPES = frozenset(
    {
        "checkout.session.completed",
        "invoice.paid",
        "charge.succeeded",
        "charge.refunded",
        "refund.created",
        "charge.dispute.created",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.closed",
        "charge.dispute.funds_reinstated",
    }
)
EXTRA_TYPES = frozenset({"invoice.payment_succeeded", "payment_intent.succeeded", "invoice_payment.paid"})


@dataclass(frozen=True)
class Price:
    currency: str
    amount_minor: int
    tax_minor: int
    weight: float


SUBSCRIPTION_PRICES = (
    Price("usd", 2900, 0, 0.65),
    Price("usd", 9900, 0, 0.30),
    Price("eur", 4900, 782, 0.05),
)
ONE_TIME_PRICES = (Price("usd", 1900, 0, 0.50), Price("usd", 4900, 0, 0.35), Price("usd", 19900, 0, 0.15))
SUBSCRIPTION_VIA = (("client_reference_id", 0.4), ("subscription_metadata", 0.3), ("metadata", 0.3))
ONE_TIME_VIA = (("metadata", 0.6), ("payment_link", 0.4))
SUBSCRIPTION_LINKS = (("jane-pro", 0.6), ("omar-all", 0.4))
ONE_TIME_LINKS = (("lena-ebook", 0.6), ("omar-all", 0.4))
MOBILE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
VISITORS = (  # (user agent, referer, utm, weight)
    (BROWSER_UA, "https://blog.example/review", (("source", "blog"), ("medium", "referral")), 0.5),
    (MOBILE_UA, "https://www.instagram.com/", (("source", "instagram"), ("medium", "social")), 0.3),
    (BROWSER_UA, None, (), 0.2),
)
BOTS = (
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", None, (), 0.7),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", None, (), 0.3),
)
_NAMES = ("ada", "ben", "chloe", "dev", "emma", "femi", "gus", "hana", "ivan", "jules", "kofi", "lin")
_DOMAINS = ("example.com", "example.org", "mail.example.net")
_CROCKFORD = bytes(ord("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[i % 32]) for i in range(256))
_IP_HASH_MARK = "ab" * 32  # the ip_hash simulator.landing.click_line writes

TEMPLATE_AT = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
MONEY_BACK_AFTER = timedelta(days=100)  # far from the payment's own times, so each time finds its owner


@dataclass(frozen=True)
class Merchant:
    """The generated history: about `events` distinct Stripe events over `days` days up to `last_day`."""

    events: int = 25_000
    seed: int = 1
    days: int = 365
    last_day: date = date(2026, 11, 30)

    @property
    def start(self) -> int:
        """Unix time of the first day's midnight (UTC)."""
        first = self.last_day - timedelta(days=self.days - 1)
        return int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp())

    @property
    def end(self) -> int:
        """Unix time of the midnight after the last day: the increment's day starts here."""
        return self.start + self.days * DAY

    def at_share(self, share: float) -> int:
        return self.start + int(share * self.days * DAY)


def _pick(rng: Random, options: tuple) -> object:
    """One option of (value, ..., weight) tuples by weight; the tuple minus its weight, or its value."""
    chosen = rng.choices(options, weights=[o[-1] for o in options])[0]
    return chosen[0] if len(chosen) == 2 else chosen[:-1]


# -- templates -------------------------------------------------------------------------------------


@dataclass
class PaymentTemplates:
    """A payment's template and those of the money back that can follow it."""

    payment: Template
    refund: Template
    disputed: dict[str, tuple[Template, Template]] = field(
        default_factory=dict
    )  # outcome → (payment, dispute)


@dataclass
class SubscriptionTemplates:
    checkout: PaymentTemplates
    renewals: dict[str, PaymentTemplates]  # API version → a renewal's templates


def _with_money_back(
    sim: RecordingSim,
    kind: str,
    pay: Callable[[], Flow],
    api: str,
    parent: Template | None,
    disputes: bool,
) -> tuple[PaymentTemplates, Flow]:
    """Templates of a payment made by `pay`, its refund and (each on a payment of its own) disputes."""
    at = TEMPLATE_AT if parent is None else add_months(TEMPLATE_AT, 1)
    later = at + MONEY_BACK_AFTER
    payment, flow = make_template(sim, kind, at, pay, parent)
    refund, _ = make_template(
        sim, "refund", later, partial(sim.refund, flow, later, api_version=api), payment, inherit_times=True
    )
    family = PaymentTemplates(payment, refund)
    for outcome in ("lost", "won") if disputes else ():
        disputed, disputed_flow = make_template(sim, kind, at, pay, parent)
        dispute = partial(sim.dispute, disputed_flow, later, outcome=outcome, api_version=api)
        dispute_template, _ = make_template(sim, "dispute", later, dispute, disputed, inherit_times=True)
        family.disputed[outcome] = (disputed, dispute_template)
    return family, flow


class Catalog:
    """Templates, built on first use; each family in a simulator seeded by its name, so the order of use
    changes nothing."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._families: dict[tuple, object] = {}

    def _sim(self, key: tuple) -> RecordingSim:
        return RecordingSim(seed=zlib.crc32(repr((self.seed, key)).encode()), livemode=True)

    def subscription(self, api: str, via: str | None, price: Price) -> SubscriptionTemplates:
        key = ("subscription", api, via, price)
        if key not in self._families:
            sim = self._sim(key)
            start = partial(
                sim.subscription_checkout,
                TEMPLATE_AT,
                price.amount_minor,
                price.currency,
                click_id=CLICK_MARK if via else None,
                via=via or "client_reference_id",  # type: ignore[arg-type]
                email=EMAIL_MARK,
                tax_minor=price.tax_minor,
                api_version=api,
            )
            checkout, flow = _with_money_back(sim, "subscription", start, api, None, disputes=False)
            renewals = {}
            for renewal_api in (LEGACY, BASIL) if api == LEGACY else (BASIL,):
                at = add_months(TEMPLATE_AT, 1)
                renew = partial(sim.renewal, flow.sub, at, api_version=renewal_api)
                renewals[renewal_api] = _with_money_back(
                    sim, "renewal", renew, renewal_api, checkout.payment, disputes=True
                )[0]
            self._families[key] = SubscriptionTemplates(checkout, renewals)
        return self._families[key]  # type: ignore[return-value]

    def one_time(self, api: str, via: str | None, price: Price, livemode: bool) -> PaymentTemplates:
        key = ("one_time", api, via, price, livemode)
        if key not in self._families:
            sim = self._sim(key)
            purchase = partial(
                sim.one_time_checkout,
                TEMPLATE_AT,
                price.amount_minor,
                price.currency,
                click_id=CLICK_MARK if via else None,
                payment_link=via == "payment_link",
                email=EMAIL_MARK,
                tax_minor=price.tax_minor,
                api_version=api,
                livemode=livemode,
            )
            self._families[key] = _with_money_back(sim, "one_time", purchase, api, None, disputes=True)[0]
        return self._families[key]  # type: ignore[return-value]

    def click(self, link: Link, visitor: tuple) -> Template:
        key = ("click", link.code, visitor)
        if key not in self._families:
            user_agent, referer, utm = visitor
            text = click_line(
                link, CLICK_MARK, RECEIVED_MARK, utm=dict(utm), user_agent=user_agent, referer=referer
            )
            template = Template(kind="click", base=0, minted=[_IP_HASH_MARK])
            template.lines.append(compile_line(template, "click", 0, text))
            self._families[key] = template
        return self._families[key]  # type: ignore[return-value]


# -- the history -----------------------------------------------------------------------------------


@dataclass
class LiveSubscription:
    """A subscription still running at the end of the history: what renewing it later needs."""

    checkout: Unit
    templates: SubscriptionTemplates
    started_at: datetime
    months: int  # renewals so far


@dataclass
class Plan:
    """What a generation lands: payment units (each with its events), clicks, and counts."""

    units: list[Unit] = field(default_factory=list)
    clicks: list[tuple[int, Unit]] = field(default_factory=list)  # (clicked at, µs; the click's unit)
    counts: Counter = field(default_factory=Counter)
    events: int = 0


class Planner:
    """Plans a merchant's history (or an increment) unit by unit; nothing is rendered here."""

    def __init__(self, merchant: Merchant, program: Program, rng: Random, catalog: Catalog) -> None:
        self.merchant, self.program, self.rng, self.catalog = merchant, program, rng, catalog
        self.window = (merchant.start, merchant.end)
        self.plan = Plan()
        self.live: list[LiveSubscription] = []
        self._forced_disputes = ["lost", "won"]
        self._line_counts: dict[int, tuple[int, int]] = {}
        self._basil_from, self._extras_from = merchant.at_share(BASIL_FROM), merchant.at_share(EXTRAS_FROM)

    # what Stripe delivers ----------------------------------------------------------------

    def api(self, at: int) -> str:
        return BASIL if at >= self._basil_from else LEGACY

    def subscribed(self, event_type: str, at: int) -> bool:
        """Whether the merchant's endpoint gets this event type at that time."""
        return event_type in CORE_TYPES or (event_type in EXTRA_TYPES and at >= self._extras_from)

    def _delivered(self, template: Template, at: int) -> int:
        counts = self._line_counts.get(id(template))
        if counts is None:
            core = sum(line.event_type in CORE_TYPES for line in template.lines)
            extra = sum(line.event_type in EXTRA_TYPES for line in template.lines)
            counts = self._line_counts[id(template)] = (core, extra)
        return counts[0] + (counts[1] if at >= self._extras_from else 0)

    # units and clicks --------------------------------------------------------------------

    def add(
        self, template: Template, at: int, parent: Unit | None = None, click_id: str | None = None
    ) -> Unit:
        email = None
        if parent is None:
            name = self.rng.choice(_NAMES)
            email = f"{name}.{fresh_alnum(self.rng, 6).lower()}@{self.rng.choice(_DOMAINS)}"
        unit = Unit(template, fresh_alnum(self.rng, template.rand_len), at, parent, click_id, email)
        self.plan.units.append(unit)
        self.plan.events += self._delivered(template, at)
        self.plan.counts[template.kind] += 1
        return unit

    def click_id(self, at_us: int) -> str:
        """One of our click ids for a click at that time (time part from core.click_ids, random part
        from the seeded generator, so the history is reproducible)."""
        stamp = new_click_id(datetime.fromtimestamp(at_us / 1e6, UTC))[:10]
        return stamp + self.rng.randbytes(20).translate(_CROCKFORD).decode("ascii")

    def land_click(self, link_code: str, at_us: int, bot: bool = False) -> str:
        link = self.program.link(link_code)
        assert link is not None, f"the program file has no link {link_code!r}"
        visitor = _pick(self.rng, BOTS if bot else VISITORS)
        click_id = self.click_id(at_us)
        template = self.catalog.click(link, visitor)  # type: ignore[arg-type]
        self.plan.clicks.append((at_us, Unit(template, self.rng.randbytes(32).hex(), 0, None, click_id)))
        return click_id

    def click_for(self, at: int, links: tuple, not_before: int) -> str:
        """The click id a purchase at `at` carries: a click on one of `links` some time before."""
        link_code = str(_pick(self.rng, links))
        link = self.program.link(link_code)
        assert link is not None, f"the program file has no link {link_code!r}"
        window = self.program.offer(link.offer).attribution_window_days * DAY
        gap = min(self.rng.expovariate(1 / (3 * DAY)), 0.9 * window)
        if self.rng.random() < EXPIRED_CLICK_SHARE:
            gap = window + self.rng.uniform(DAY, 20 * DAY)
        at_us = max(int((at - gap) * 1e6), not_before * 1_000_000)
        if self.rng.random() < UNKNOWN_CLICK_SHARE:
            return self.click_id(at_us)  # the visitor's click never reached us
        return self.land_click(link_code, at_us)

    def filler_clicks(self, count: int, start: int, end: int) -> None:
        """Clicks that lead to no purchase (bots among them), spread over [start, end)."""
        links = tuple((link.code, 1.0) for link in self.program.links)
        for _ in range(count):
            at_us = self.rng.randrange(start * 1_000_000, end * 1_000_000)
            self.land_click(str(_pick(self.rng, links)), at_us, bot=self.rng.random() < BOT_SHARE)

    # purchases ---------------------------------------------------------------------------

    def purchase(self, at: int, not_before: int) -> None:
        if self.rng.random() < SUBSCRIPTION_SHARE:
            self.subscription(at, not_before)
        else:
            self.one_time(at, not_before)

    def _via(self, options: tuple) -> str | None:
        return str(_pick(self.rng, options)) if self.rng.random() < CLICK_SHARE else None

    def one_time(self, at: int, not_before: int) -> None:
        via = self._via(ONE_TIME_VIA)
        price: Price = _pick(self.rng, tuple((p, p.weight) for p in ONE_TIME_PRICES))  # type: ignore[assignment]
        live = self.rng.random() >= TEST_MODE_SHARE
        family = self.catalog.one_time(self.api(at), via, price, live)
        click_id = self.click_for(at, ONE_TIME_LINKS, not_before) if via else None
        self.pay(family, at, None, click_id)

    def subscription(self, at: int, not_before: int) -> None:
        via = self._via(SUBSCRIPTION_VIA)
        price: Price = _pick(self.rng, tuple((p, p.weight) for p in SUBSCRIPTION_PRICES))  # type: ignore[assignment]
        family = self.catalog.subscription(self.api(at), via, price)
        click_id = self.click_for(at, SUBSCRIPTION_LINKS, not_before) if via else None
        checkout = self.add(family.checkout.payment, at, None, click_id)
        if self.money_back(family.checkout, checkout, disputes=False):
            return  # refunded: the customer cancelled
        sub = LiveSubscription(checkout, family, datetime.fromtimestamp(at, UTC), 0)
        while self.renew(sub, self.window[1]):
            pass

    def renew(self, sub: LiveSubscription, until: int, at: int | None = None) -> bool:
        """The subscription's next renewal (at its due time, or `at`); False once it ended or is due
        after `until` (then it is live)."""
        due = int(add_months(sub.started_at, sub.months + 1).timestamp()) if at is None else at
        if due >= until:
            self.live.append(sub)
            return False
        if self.rng.random() < MONTHLY_CHURN:
            return False
        sub.months += 1
        family = sub.templates.renewals.get(self.api(due)) or sub.templates.renewals[BASIL]
        return not self.pay(family, due, sub.checkout, None)

    def pay(self, family: PaymentTemplates, at: int, parent: Unit | None, click_id: str | None) -> bool:
        """A payment and what may follow it; True when money went back (a refund or a dispute)."""
        outcome = self.dispute_due(at) if family.disputed else None
        if outcome:
            payment_template, dispute_template = family.disputed[outcome]
            payment = self.add(payment_template, at, parent, click_id)
            when = at + int(self.rng.uniform(5 * DAY, 30 * DAY))
            self.add(dispute_template, when, payment)
            return True
        payment = self.add(family.payment, at, parent, click_id)
        return self.money_back(family, payment, disputes=True)

    def money_back(self, family: PaymentTemplates, payment: Unit, disputes: bool) -> bool:
        if self.rng.random() >= REFUND_SHARE:
            return False
        when = payment.at + int(self.rng.uniform(3600, 20 * DAY))
        if when >= self.window[1]:
            return False
        self.add(family.refund, when, payment)
        return True

    def dispute_due(self, at: int) -> str | None:
        """A dispute outcome for this payment, or None: the first two eligible payments early enough for
        the dispute to close inside the window, then a small share."""
        if at > self.window[1] - 70 * DAY:
            return None
        if self._forced_disputes:
            return self._forced_disputes.pop(0)
        if self.rng.random() < DISPUTE_SHARE:
            return "lost" if self.rng.random() < 0.6 else "won"
        return None

    # whole histories ---------------------------------------------------------------------

    def history(self, filler: bool = True) -> Plan:
        """Purchases at uniformly random times until about `merchant.events` events, then (unless only
        the live subscriptions are wanted) the clicks that lead nowhere."""
        start, end = self.window
        while self.plan.events < self.merchant.events:
            self.purchase(self.rng.randrange(start, end), start - 60 * DAY)
        if filler:
            self.filler_clicks(self._clicks_missing(), start - 30 * DAY, end)
        return self.plan

    def increment(self, share: float) -> Plan:
        """About `share` × the history's events more, on the day after it: renewals due first, then new
        purchases (their clicks on that day too)."""
        day = self.merchant.end
        self.window, self.plan, self._forced_disputes = (day, day + DAY), Plan(), []
        budget = share * self.merchant.events
        live, self.live = sorted(self.live, key=lambda s: add_months(s.started_at, s.months + 1)), []
        for sub in live:
            if self.plan.events >= 0.6 * budget:
                break
            due = add_months(sub.started_at, sub.months + 1)
            self.renew(sub, day + DAY, at=day + due.hour * 3600 + due.minute * 60 + due.second)
        while self.plan.events < budget:
            self.purchase(self.rng.randrange(day, day + DAY), day)
        self.filler_clicks(self._clicks_missing(), day, day + DAY)
        return self.plan

    def _clicks_missing(self) -> int:
        return max(0, round(CLICKS_PER_EVENT * self.plan.events) - len(self.plan.clicks))

    # deliveries --------------------------------------------------------------------------

    def deliveries(self) -> list[tuple[int, Unit, int]]:
        """(received at in µs, unit, line index) of every delivery of the plan's events, duplicates
        included, inside the window."""
        rng, last_us = self.rng, self.window[1] * 1_000_000 - 1
        out: list[tuple[int, Unit, int]] = []
        for unit in self.plan.units:
            for index, line in enumerate(unit.template.lines):
                created = line.created + unit.delta
                if not self.subscribed(line.event_type, created):
                    continue
                first = created * 1_000_000 + int(rng.lognormvariate(13.5, 0.8))  # ~0.7 s typically
                out.append((min(first, last_us), unit, index))
                if rng.random() < DUPLICATE_SHARE:
                    retry = int(1e6 * 10 ** rng.uniform(0.5, 5.2))  # 3 s to ~2 days later
                    out.append((min(first + retry, last_us), unit, index))
        return out


# -- writing ---------------------------------------------------------------------------------------


def rfc3339(at_us: int) -> str:
    """core.landing_records.utc_timestamp of a Unix time in µs, fast."""
    seconds, micros = divmod(at_us, 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def write_stream(
    stream_dir: Path, deliveries: list[tuple[int, Unit, int]], prefix: str, seed: int
) -> tuple[int, int]:
    """Land deliveries in arrival order: a date folder per day, a few receiver files per day (lines
    dealt round robin, as a load balancer would). (files, bytes) written."""
    deliveries.sort(key=itemgetter(0))
    files = size = 0
    for day, group in itertools.groupby(deliveries, key=lambda d: d[0] // DAY_US):
        folder = stream_dir / f"date={datetime.fromtimestamp(day * DAY, UTC).date().isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        handles = []
        for worker in range(RECEIVER_FILES_PER_DAY):
            tag = zlib.crc32(f"{seed}:{prefix}:{day}:{worker}".encode())
            path = folder / f"{prefix}-{1000 + worker}-{tag:08x}.ndjson"
            handles.append(path.open("w", encoding="utf-8", newline="\n"))
        try:
            for n, (at_us, unit, index) in enumerate(group):
                line = unit.line(index, rfc3339(at_us))
                handles[n % RECEIVER_FILES_PER_DAY].write(line)
                size += len(line)
        finally:
            for handle in handles:
                handle.close()
        files += len(handles)
    return files, size


def _land(planner: Planner, plan: Plan, landing_dir: Path, prefix: str) -> dict[str, int]:
    events = planner.deliveries()
    clicks = [(at_us, unit, 0) for at_us, unit in plan.clicks]
    seed = planner.merchant.seed
    event_files, event_bytes = write_stream(landing_dir / "stripe_events", events, prefix, seed)
    click_files, click_bytes = write_stream(landing_dir / "clicks", clicks, prefix, seed)
    kinds = plan.counts
    return {
        "events": plan.events,
        "event_lines": len(events),
        "clicks": len(clicks),
        "payments": kinds["subscription"] + kinds["renewal"] + kinds["one_time"],
        "subscriptions": kinds["subscription"],
        "renewals": kinds["renewal"],
        "one_time": kinds["one_time"],
        "refunds": kinds["refund"],
        "disputes": kinds["dispute"],
        "files": event_files + click_files,
        "bytes": event_bytes + click_bytes,
    }


def _planner(merchant: Merchant, program: Program | None) -> Planner:
    program = program or load_program(DEMO_PROGRAM)
    return Planner(merchant, program, Random(merchant.seed), Catalog(merchant.seed))


def generate(merchant: Merchant, landing_dir: Path, program: Program | None = None) -> dict[str, int]:
    """Land the merchant's history under `landing_dir` (stripe_events/, clicks/); what was landed."""
    planner = _planner(merchant, program)
    plan = planner.history()
    return _land(planner, plan, Path(landing_dir), "attro-web")


def append_increment(
    merchant: Merchant, landing_dir: Path, share: float = 0.01, program: Program | None = None
) -> dict[str, int]:
    """Land "+`share`" more on the day after the history `generate(merchant, ...)` landed: renewals of
    its live subscriptions and new purchases with their clicks, in new files. Deterministic too."""
    planner = _planner(merchant, program)
    planner.history(filler=False)  # the same subscriptions, live at the end
    planner.rng = Random(merchant.seed * 1_000_003 + round(share * 1e6))
    plan = planner.increment(share)
    return _land(planner, plan, Path(landing_dir), f"attro-web-inc{round(share * 1e4)}")
