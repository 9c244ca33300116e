"""Fraud and risk: flag suspicious conversions and clicks, hold their commission, apply a person's decision.

Rules (each `hold` or `off` in the program file's `[risk]`): `self_referral` (the paying customer's
email is the affiliate's, after normalising case, `+tags` and Gmail dots), `disposable_email` (the
customer's mail domain is a throwaway one, from the maintained disposable-email-domains list),
`paid_traffic` (the click's landing URL or referer carries an ad-click id, or utm_medium is cpc/ppc/
paid), `banned_referrer` (the click's referer host is one the merchant refuses), `too_fast` (the
purchase came less than N seconds after the click), `click_flood` (one link got more than N clicks
from one hashed IP in a UTC day: the day's clicks are flagged once, and each conversion on one of
them has a flag of its own).

A conversion flag covers its whole attribution (the initial payment and every renewal). While a
flag is open its lines are `held` (never payable); a flag rejected in review voids them, with the
reason in their rule text; approved, they follow the holding period as usual. Flag ids are a hash
of the rule and what it is about, so reruns give the same ids and a decision sticks to its flag.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import polars as pl

from core.contracts import DECIDED_FLAG, RISK_FLAG, conform, empty
from models.exprs import text

RULES = ("self_referral", "disposable_email", "paid_traffic", "banned_referrer", "too_fast", "click_flood")
# Query parameters ad networks add to a click: an affiliate bidding on the merchant's brand shows them.
AD_CLICK_IDS = (
    "gclid", "gbraid", "wbraid", "dclid", "fbclid", "msclkid", "ttclid", "li_fat_id", "twclid",
    "yclid", "epik", "sccid", "rdt_cid", "irclid",
)  # fmt: skip
PAID_MEDIUMS = ("cpc", "ppc", "paid", "paidsearch", "paid_search", "paid-search", "paid_social", "cpm")
GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


@dataclass(frozen=True)
class RiskSettings:
    """The program file's `[risk]` section, and the disposable domains to check against."""

    hold: frozenset[str] = frozenset(RULES)  # rules set to `hold` (the others are off)
    banned_referrers: tuple[str, ...] = ()
    min_seconds_click_to_purchase: int = 10
    max_clicks_per_ip_hash_per_day: int = 50
    disposable_domains: frozenset[str] = field(default_factory=frozenset)


def flag_id(rule: str, subject: str) -> str:
    return "rf_" + hashlib.sha256(f"{rule}:{subject}".encode()).hexdigest()[:16]


def normalized_email(expr: pl.Expr) -> pl.Expr:
    """Lowercase; `+tag` dropped from the local part; dots dropped from Gmail local parts."""
    email = expr.str.strip_chars().str.to_lowercase()
    local = email.str.extract(r"^([^@]+)@", 1).str.replace(r"\+.*$", "")
    domain = email.str.extract(r"@(.+)$", 1).replace({"googlemail.com": "gmail.com"})
    local = (
        pl.when(domain.is_in(GMAIL_DOMAINS))
        .then(local.str.replace_all(".", "", literal=True))
        .otherwise(local)
    )
    return pl.when(local.is_not_null() & domain.is_not_null()).then(
        pl.concat_str([local, domain], separator="@")
    )


def _host(url: pl.Expr) -> pl.Expr:
    return (
        url.str.to_lowercase()
        .str.extract(r"^[a-z][a-z0-9+.-]*://(?:[^@/?#]*@)?([^/:?#]+)", 1)
        .str.replace(r"^www\.", "")
    )


def _ad_click_id(url: pl.Expr) -> pl.Expr:
    pattern = r"(?i)[?&#](" + "|".join(AD_CLICK_IDS) + r")="
    return url.str.extract(pattern, 1).str.to_lowercase()


def _flags(frame: pl.DataFrame, rule: str, subject: pl.Expr) -> pl.DataFrame:
    """Rows of `frame` as flags of `rule` (frame has detail, affiliate_id, conversion_id, click_id,
    detected_at)."""
    return frame.with_columns(rule=pl.lit(rule), subject=subject).select(
        "rule", "subject", "detail", "affiliate_id", "conversion_id", "click_id", "detected_at"
    )


def _initial_conversions(conversions: pl.DataFrame, payments: pl.DataFrame) -> pl.DataFrame:
    """Each attribution's first conversion, with the customer's email and when the purchase happened."""
    return (
        conversions.filter(pl.col("conversion_type") == "initial")
        .join(
            payments.select("payment_id", "customer_email", "checkout_completed_at"),
            on="payment_id",
            how="left",
        )
        .with_columns(
            purchased_at=pl.min_horizontal("occurred_at", "checkout_completed_at"),
            email=normalized_email(pl.col("customer_email")),
            shown_email=pl.col("customer_email").str.strip_chars().str.to_lowercase(),
        )
    )


def conversion_flags(
    conversions: pl.DataFrame,
    payments: pl.DataFrame,
    clicks: pl.DataFrame,
    affiliates: pl.DataFrame,
    settings: RiskSettings,
) -> pl.DataFrame:
    """Flags raised by the rules that look at one sale and its click."""
    initial = _initial_conversions(conversions, payments).join(
        clicks.select("click_id", "clicked_at", "referer", "landing_url", "utm_medium"),
        on="click_id",
        how="left",
    )
    base = initial.with_columns(detected_at=pl.col("occurred_at"))
    frames = []
    if "self_referral" in settings.hold:
        mine = affiliates.select("affiliate_id", affiliate_email=normalized_email(pl.col("email")))
        matched = base.join(mine, on="affiliate_id").filter(pl.col("email") == pl.col("affiliate_email"))
        detail = text("customer email ", pl.col("shown_email"), " matches affiliate ", pl.col("affiliate_id"))
        frames.append(_flags(matched.with_columns(detail=detail), "self_referral", pl.col("conversion_id")))
    if "disposable_email" in settings.hold and settings.disposable_domains:
        domain = pl.col("email").str.extract(r"@(.+)$", 1)
        throwaway = base.filter(domain.is_in(sorted(settings.disposable_domains)))
        detail = text("customer email ", pl.col("shown_email"), " is at a disposable mail domain")
        frames.append(
            _flags(throwaway.with_columns(detail=detail), "disposable_email", pl.col("conversion_id"))
        )
    if "paid_traffic" in settings.hold:
        ad_id = pl.coalesce(_ad_click_id(pl.col("landing_url")), _ad_click_id(pl.col("referer")))
        medium = pl.col("utm_medium").str.to_lowercase().str.strip_chars()
        paid = base.with_columns(ad_id=ad_id).filter(
            pl.col("ad_id").is_not_null() | medium.is_in(PAID_MEDIUMS)
        )
        detail = (
            pl.when(pl.col("ad_id").is_not_null())
            .then(text("the click came from a paid ad (", pl.col("ad_id"), " in its URL)"))
            .otherwise(text("the click came from paid traffic (utm_medium ", pl.col("utm_medium"), ")"))
        )
        frames.append(_flags(paid.with_columns(detail=detail), "paid_traffic", pl.col("conversion_id")))
    if "banned_referrer" in settings.hold and settings.banned_referrers:
        host = _host(pl.col("referer"))
        banned = pl.lit(None, pl.String)
        for name in sorted(settings.banned_referrers, key=len, reverse=True):
            banned = (
                pl.when((host == name) | host.str.ends_with("." + name)).then(pl.lit(name)).otherwise(banned)
            )
        hit = base.with_columns(host=host, banned=banned).filter(pl.col("banned").is_not_null())
        detail = text(
            "the click's referer ", pl.col("host"), " is a banned referrer (", pl.col("banned"), ")"
        )
        frames.append(_flags(hit.with_columns(detail=detail), "banned_referrer", pl.col("conversion_id")))
    if "too_fast" in settings.hold:
        seconds = (pl.col("purchased_at") - pl.col("clicked_at")).dt.total_seconds()
        fast = base.with_columns(seconds=seconds).filter(
            pl.col("seconds").is_not_null()
            & (pl.col("seconds") >= 0)
            & (pl.col("seconds") < settings.min_seconds_click_to_purchase)
        )
        detail = text(
            "purchase ", pl.col("seconds"), " s after the click (the minimum is ",
            pl.lit(str(settings.min_seconds_click_to_purchase)), " s)",
        )  # fmt: skip
        frames.append(_flags(fast.with_columns(detail=detail), "too_fast", pl.col("conversion_id")))
    return pl.concat(frames) if frames else pl.DataFrame(schema=_FLAG_ROW)


_FLAG_ROW = {
    "rule": pl.String,
    "subject": pl.String,
    "detail": pl.String,
    "affiliate_id": pl.String,
    "conversion_id": pl.String,
    "click_id": pl.String,
    "detected_at": pl.Datetime("us", "UTC"),
}


def flood_flags(conversions: pl.DataFrame, clicks: pl.DataFrame, settings: RiskSettings) -> pl.DataFrame:
    """A flag per (link, hashed IP, UTC day) with more clicks than allowed, and one per conversion on
    such a click."""
    if "click_flood" not in settings.hold:
        return pl.DataFrame(schema=_FLAG_ROW)
    limit = settings.max_clicks_per_ip_hash_per_day
    day = pl.col("clicked_at").dt.date()
    floods = (
        clicks.filter(pl.col("ip_hash").is_not_null())
        .with_columns(day=day)
        .group_by("link_code", "ip_hash", "day")
        .agg(
            pl.len().alias("clicks"),
            pl.col("affiliate_id").sort_by("clicked_at", "click_id").first(),  # the day's first click's
            pl.col("click_id").sort().first(),
            pl.col("clicked_at").max().alias("detected_at"),
        )
        .filter(pl.col("clicks") > limit)
    )
    detail = text(
        pl.col("clicks"), " clicks from one IP hash on ", pl.col("day").dt.strftime("%Y-%m-%d"),
        " through link ", pl.col("link_code"), " (the limit is ", pl.lit(str(limit)), " a day)",
    )  # fmt: skip
    groups = _flags(
        floods.with_columns(detail=detail, conversion_id=pl.lit(None, pl.String)),
        "click_flood",
        text(pl.col("link_code"), "|", pl.col("ip_hash"), "|", pl.col("day").cast(pl.String)),
    )
    flooded = clicks.with_columns(day=day).join(
        floods.select("link_code", "ip_hash", "day", "clicks"), on=["link_code", "ip_hash", "day"]
    )
    converted = (
        conversions.filter(pl.col("conversion_type") == "initial")
        .join(flooded.select("click_id", "clicks", "day", "link_code"), on="click_id")
        .with_columns(
            detected_at=pl.col("occurred_at"),
            detail=text(
                "the sale's click is one of ",
                pl.col("clicks"),
                " clicks from one IP hash on ",
                pl.col("day").dt.strftime("%Y-%m-%d"),
                " through link ",
                pl.col("link_code"),
            ),  # fmt: skip
        )
    )
    return pl.concat([groups, _flags(converted, "click_flood", pl.col("conversion_id"))])


def risk_flags(
    conversions: pl.DataFrame,
    payments: pl.DataFrame,
    clicks: pl.DataFrame,
    affiliates: pl.DataFrame,
    decisions: pl.DataFrame,
    settings: RiskSettings,
) -> pl.DataFrame:
    """marts.risk_flags: every flag, with the latest decision taken on it (open when none)."""
    raised = pl.concat(
        [
            conversion_flags(conversions, payments, clicks, affiliates, settings),
            flood_flags(conversions, clicks, settings),
        ]
    )
    latest = decisions.sort("decided_at").group_by("flag_id").agg(pl.all().last())
    if raised.is_empty():
        flags = empty(RISK_FLAG)
    else:
        ids = pl.struct("rule", "subject").map_elements(
            lambda row: flag_id(row["rule"], row["subject"]), return_dtype=pl.String
        )
        flags = (
            raised.with_columns(flag_id=ids)
            .unique("flag_id", keep="first")
            .join(latest.select("flag_id", "decision", "decided_at", "note"), on="flag_id", how="left")
            .with_columns(pl.col("decision").fill_null("open"))
        )
    return pl.concat([conform(flags, RISK_FLAG), _kept_decisions(latest, flags, conversions)]).sort(
        "detected_at", "flag_id"
    )


def held_attributions(flags: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
    """Per flagged attribution: `review` = held (an open flag) or rejected (a rejected flag), and why."""
    on_sales = flags.filter(pl.col("conversion_id").is_not_null()).join(
        conversions.select("conversion_id", "attribution_id"), on="conversion_id"
    )
    return (
        on_sales.filter(pl.col("decision") != "approved")
        .group_by("attribution_id")
        .agg(
            rejected=(pl.col("decision") == "rejected").any(),
            rejected_rules=pl.col("rule").filter(pl.col("decision") == "rejected").unique().sort(),
            note=pl.col("note").filter(pl.col("decision") == "rejected").drop_nulls().first(),
        )
    )


def rejected_payments(flags: pl.DataFrame, conversions: pl.DataFrame) -> pl.Series:
    """The payments of every attribution a reviewer rejected (what the ledger voids)."""
    rejected = held_attributions(flags, conversions).filter(pl.col("rejected"))
    return conversions.join(rejected.select("attribution_id"), on="attribution_id").get_column("payment_id")


KEPT = " (kept as decided: the rule no longer raises it)"


def _kept_decisions(latest: pl.DataFrame, raised: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
    """Decided flags on a sale that no rule raises any more (the rule turned off, the affiliate's email
    corrected), kept as they were decided: a person's rejection still voids the commission, and the
    decision stays visible (approve it to undo). Decisions recorded without their flag cannot be."""
    kept = (
        latest.join(raised.select("flag_id"), on="flag_id", how="anti")
        .filter(pl.col("flag_conversion_id").is_in(conversions["conversion_id"].implode()))
        .rename({f"flag_{name}": name for name in DECIDED_FLAG})
        # once: a flag decided again after it was kept carries the note in the detail it was decided with
        .with_columns(detail=text(pl.col("detail").str.replace_all(KEPT, "", literal=True), KEPT))
    )
    return conform(kept, RISK_FLAG)


def held_for_review(lines: pl.DataFrame, flags: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
    """The live lines a flag still open holds. A closed month's line frozen as `held` whose flag has
    since been decided holds nothing any more: approved, its amount is owed in an open month's
    correction line; rejected, it never will be."""
    # held: an open flag and no rejection (which voids the attribution's lines, whatever is still open)
    open_attributions = (
        held_attributions(flags, conversions).filter(~pl.col("rejected")).select("attribution_id")
    )
    waiting = conversions.join(open_attributions, on="attribution_id", how="semi").select("conversion_id")
    return lines.filter((pl.col("status") == "held") & pl.col("livemode")).join(
        waiting, on="conversion_id", how="semi"
    )


# What a line's rule gains when review rejects its sale: `...; rejected in review (self_referral): note`.
REJECTED_IN_REVIEW = "; rejected in review ("


def apply_reviews(lines: pl.DataFrame, flags: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
    """Lines of flagged attributions: `held` while a flag is open; `void`, saying why, once rejected."""
    reviewed = held_attributions(flags, conversions)
    if reviewed.is_empty():
        return lines
    of_line = conversions.select("conversion_id", "attribution_id").join(reviewed, on="attribution_id")
    marked = lines.join(of_line, on="conversion_id", how="left")
    rejected = pl.col("rejected").fill_null(False)
    held = pl.col("attribution_id").is_not_null() & ~rejected & (pl.col("status") != "void")
    reason = text(
        REJECTED_IN_REVIEW,
        pl.col("rejected_rules").list.join(", "),
        ")",
    )
    with_note = (
        pl.when(pl.col("note").is_not_null()).then(text(reason, ": ", pl.col("note"))).otherwise(reason)
    )
    return marked.with_columns(
        status=pl.when(rejected)
        .then(pl.lit("void"))
        .when(held)
        .then(pl.lit("held"))
        .otherwise(pl.col("status")),
        rule=pl.when(rejected).then(pl.concat_str([pl.col("rule"), with_note])).otherwise(pl.col("rule")),
        # owed nothing while held or once rejected, whatever a closed month froze (models/closed_periods.py)
        withheld=rejected | held,
    ).select(*lines.columns, "withheld")
