"""Attribution: which click, code or lead (and so which affiliate and offer) each payment belongs to.

Rules (DESIGN §4): a payment's own click id (metadata, client_reference_id, subscription metadata)
first; a subscription's payments share the attribution of its first payment that names a click;
the click must exist, not be a bot, and lie inside the offer's attribution window before the chain
started (its checkout, or its first payment). A chain that used an affiliate's promotion code
belongs to that affiliate too (models/codes.py); when a valid click and a valid code name
different affiliates, `attribution_precedence` decides (`click_first`, the default, or
`code_first`) and the other candidate stays visible (`contested_by_*`). A chain with neither
inherits the customer's earlier attribution, else the customer's lead (models/leads.py).
Everything that no affiliate gets is kept, with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from core.contracts import ATTRIBUTED_PAYMENT, UNATTRIBUTED_PAYMENT, conform
from models.clicks import is_click_id_expr
from models.codes import code_owners
from models.exprs import text
from models.objects import Objects


def _chains(payments: pl.DataFrame) -> pl.DataFrame:
    """Add chain_id (the subscription, else the payment itself), chain start and order."""
    return (
        payments.sort("occurred_at", "payment_id")
        .with_columns(
            chain_id=pl.coalesce("subscription_id", "payment_id"),
        )
        .with_columns(
            chain_first_at=pl.col("occurred_at").min().over("chain_id"),
            # a trial's checkout comes before its first payment: the visitor converted at checkout
            chain_started_at=pl.min_horizontal(
                pl.col("occurred_at").min().over("chain_id"),
                pl.col("checkout_completed_at").min().over("chain_id"),
            ),
        )
    )


def _days_hours_minutes(gap: pl.Expr) -> pl.Expr:
    """`61 days`, or `60 days 0 h 10 min` when not whole days: the window is exact time, so a click
    10 minutes past a 60-day window must not read "60 days" (truncated)."""
    minutes = gap.dt.total_minutes()
    whole = text(minutes // 1440, " days")
    return (
        pl.when(minutes % 1440 == 0)
        .then(whole)
        .otherwise(text(whole, " ", (minutes % 1440) // 60, " h ", minutes % 60, " min"))
    )


def chain_clicks(payments: pl.DataFrame) -> pl.DataFrame:
    """Per chain: the click ids its payments name, each once, in the order they were first named
    (`named_clicks`: click id, where it came from, the payment and time that first named it); and
    the promotion code its first payment used."""
    chains = _chains(payments)
    named = (
        chains.filter(pl.col("click_id").is_not_null())
        .unique(["chain_id", "click_id"], keep="first", maintain_order=True)
        .group_by("chain_id", maintain_order=True)
        .agg(
            pl.struct(
                pl.col("click_id").alias("chain_click_id"),
                pl.col("click_id_source").alias("chain_click_source"),
                pl.col("payment_id").alias("chain_click_payment_id"),
                pl.col("occurred_at").alias("chain_click_named_at"),
            ).alias("named_clicks")
        )
    )
    code = pl.col("promotion_code_id") if "promotion_code_id" in chains.columns else pl.lit(None, pl.String)
    return (
        chains.group_by("chain_id")
        .agg(
            pl.col("chain_first_at").first(),
            pl.col("chain_started_at").first(),
            pl.col("customer_id").drop_nulls().first(),
            pl.col("livemode").first(),
            # the code the purchase was made with: one added at a renewal does not claim the chain
            code.filter(pl.col("occurred_at") == pl.col("chain_first_at"))
            .drop_nulls()
            .first()
            .alias("chain_promotion_code_id"),
            # the checkout its first payment was paid through: none for a trial's first paid invoice
            # (the trial's session links only to its $0 invoice)
            pl.col("checkout_session_id")
            .filter(pl.col("occurred_at") == pl.col("chain_first_at"))
            .drop_nulls()
            .first()
            .alias("chain_first_session_id"),
        )
        .join(named, on="chain_id", how="left")
    )


def validate_chain_clicks(
    chains: pl.DataFrame, clicks: pl.DataFrame, offers: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Judge the clicks each chain names and keep, per chain, the one that decides it (attributed, or
    the reason it is not): the click its first payment names; else the first click a later payment
    names that counts; else none (`no_click_id`). A click first named by a later payment (a renewal
    whose subscription metadata got a click id) that does not count (made after the chain started, a
    bot's, unknown, expired) did not bring the chain: it is passed over, so the chain keeps a later
    valid click, or what the customer's earlier attribution or lead gives it, instead of losing all
    its payments, back to the first, to a later click id. Also returns the clicks passed over (chain,
    click id, reason, detail): the payments that named them are told why, if the chain stays
    unattributed."""
    click_cols = clicks.select(
        pl.col("click_id").alias("chain_click_id"),
        "clicked_at",
        "is_bot",
        "affiliate_id",
        "offer_id",
        "link_code",
    )
    windows = offers.select("offer_id", "attribution_window_days").unique("offer_id")
    named = chains.explode("named_clicks").unnest("named_clicks")
    judged = named.join(click_cols, on="chain_click_id", how="left", maintain_order="left").join(
        windows, on="offer_id", how="left", maintain_order="left"
    )
    window = pl.duration(days=pl.col("attribution_window_days"))
    reason = (
        pl.when(pl.col("chain_click_id").is_null())
        .then(pl.lit("no_click_id"))
        .when(~is_click_id_expr(pl.col("chain_click_id")) | pl.col("clicked_at").is_null())
        .then(pl.lit("unknown_click"))
        .when(pl.col("is_bot"))
        .then(pl.lit("bot_click"))
        .when(pl.col("attribution_window_days").is_null())
        .then(pl.lit("unknown_offer"))
        .when(pl.col("clicked_at") > pl.col("chain_started_at"))
        .then(pl.lit("click_after_payment"))
        .when(pl.col("chain_started_at") - pl.col("clicked_at") > window)
        .then(pl.lit("click_expired"))
    )
    detail = (
        pl.when(reason == "click_expired")
        .then(
            text(
                "clicked ",
                _days_hours_minutes(pl.col("chain_started_at") - pl.col("clicked_at")),
                " before the purchase; window ",
                pl.col("attribution_window_days"),
                " days",
            )
        )
        .when(reason == "unknown_click")
        .then(text("click id ", pl.col("chain_click_id"), " was not issued by this program"))
        .when(reason == "click_after_payment")
        .then(
            text(
                "clicked ",
                pl.col("clicked_at").dt.strftime("%Y-%m-%d %H:%M UTC"),
                ", after the purchase at ",
                pl.col("chain_started_at").dt.strftime("%Y-%m-%d %H:%M UTC"),
            )
        )
    )
    judged = judged.with_columns(reason=reason, detail=detail)
    # named after the chain started: by a later payment, or made during a trial (after its checkout,
    # before its first payment: put into its subscription metadata, named by its first paid invoice).
    # A click made after a purchase and named by it is that purchase's own (clock skew): it decides.
    late = (
        (pl.col("chain_click_named_at") > pl.col("chain_first_at"))
        | (
            (pl.col("clicked_at") > pl.col("chain_started_at"))
            & (pl.col("clicked_at") <= pl.col("chain_first_at"))
            & pl.col("chain_first_session_id").is_null()  # not a checkout's own payment (bank debit)
        )
    ).fill_null(False)
    passed_over = judged.filter(late & pl.col("reason").is_not_null())
    # named in naming order, so the first row left per chain decides it
    deciding = judged.filter(~late | pl.col("reason").is_null()).unique(
        "chain_id", keep="first", maintain_order=True
    )
    undecided = (
        chains.drop("named_clicks")
        .join(deciding.select("chain_id"), on="chain_id", how="anti")
        .with_columns(
            *(pl.lit(None, judged.schema[name]).alias(name) for name in _CLICK_COLUMNS),
            reason=pl.lit("no_click_id"),
            detail=pl.lit(None, pl.String),
        )
    )
    return (
        pl.concat([deciding, undecided.select(deciding.columns)]),
        passed_over.select(
            "chain_id",
            click_id=pl.col("chain_click_id"),
            late_reason=pl.col("reason"),
            late_detail=pl.col("detail"),
        ),
    )


# What a chain's click brings to its judgement (none for a chain whose every click was passed over).
_CLICK_COLUMNS = (
    "chain_click_id",
    "chain_click_source",
    "chain_click_payment_id",
    "chain_click_named_at",
    "clicked_at",
    "is_bot",
    "affiliate_id",
    "offer_id",
    "link_code",
    "attribution_window_days",
)


def _customer_inheritance(judged: pl.DataFrame, lead_chains: pl.Series | None = None) -> pl.DataFrame:
    """Chains without a click id inherit the earliest attributed chain of the same customer that was
    paid before they started (a trial's checkout comes before its first payment: a purchase between
    the two, through another affiliate's click, did not bring the subscription). The chain a lead
    attributes (`lead_chains`) is the customer's origin from its own start: the customer came through
    the sign-up, and each later chain continues it (a purchase during the lead's trial too)."""
    is_lead = pl.col("chain_id").is_in(lead_chains.implode()) if lead_chains is not None else pl.lit(False)
    origins = judged.filter(pl.col("reason").is_null()).select(
        "customer_id",
        "livemode",
        pl.col("chain_id").alias("origin_chain_id"),
        pl.col("chain_first_at").alias("origin_first_at"),
        # from when it is the customer's origin: its first payment, or a lead's chain's start
        pl.when(is_lead)
        .then(pl.col("chain_started_at"))
        .otherwise(pl.col("chain_first_at"))
        .alias("origin_at"),
    )
    orphans = judged.filter((pl.col("reason") == "no_click_id") & pl.col("customer_id").is_not_null()).select(
        "chain_id", "customer_id", "livemode", "chain_started_at"
    )
    return (
        orphans.join(origins, on=["customer_id", "livemode"])
        .filter(pl.col("origin_at") < pl.col("chain_started_at"))
        .sort("origin_first_at", "origin_chain_id")
        .group_by("chain_id")
        .agg(pl.col("origin_chain_id").first())
    )


@dataclass(frozen=True)
class AttributionSettings:
    """The program file's attribution settings."""

    precedence: str = "click_first"  # or code_first: who wins when a click and a code disagree
    lead_window_days: int = 90  # a lead's first payment must come within this many days


_CLICK_METHODS = {
    "metadata": "click_metadata",
    "client_reference_id": "client_reference_id",
    "subscription_metadata": "subscription_metadata",
}
_NO_CODES = pl.DataFrame(
    schema={
        "chain_id": pl.String,
        "code_affiliate_id": pl.String,
        "code_offer_id": pl.String,
        "code_reason": pl.String,
        "code_detail": pl.String,
    }
)


def _candidates(judged: pl.DataFrame, owners: pl.DataFrame, settings: AttributionSettings) -> pl.DataFrame:
    """Each chain's winner between its click and its code (`method` null when neither is valid), the
    overruled other, and the reason when there is no winner."""
    click_ok = pl.col("reason").is_null()
    code_ok = pl.col("code_affiliate_id").is_not_null() & pl.col("code_reason").is_null()
    click_method = pl.col("chain_click_source").replace_strict(_CLICK_METHODS, default="click_metadata")
    first, second = (click_ok, code_ok) if settings.precedence == "click_first" else (code_ok, click_ok)
    pick_click = click_ok if settings.precedence == "click_first" else click_ok & ~code_ok
    both = click_ok & code_ok & (pl.col("affiliate_id") != pl.col("code_affiliate_id"))
    joined = judged.join(owners, on="chain_id", how="left")
    return joined.with_columns(
        method=pl.when(pick_click).then(click_method).when(code_ok).then(pl.lit("promotion_code")),
        contested_by_affiliate_id=pl.when(both).then(
            pl.when(pick_click).then(pl.col("code_affiliate_id")).otherwise(pl.col("affiliate_id"))
        ),
        contested_by_method=pl.when(both).then(
            pl.when(pick_click).then(pl.lit("promotion_code")).otherwise(click_method)
        ),
        reason=pl.when(first | second)
        .then(pl.lit(None, pl.String))
        .when(pl.col("chain_click_id").is_not_null())
        .then(pl.col("reason"))
        .when(pl.col("code_reason").is_not_null())
        .then(pl.col("code_reason"))
        .otherwise(pl.col("reason")),
        detail=pl.when(pl.col("chain_click_id").is_null() & pl.col("code_reason").is_not_null())
        .then(pl.col("code_detail"))
        .otherwise(pl.col("detail")),
    ).with_columns(
        affiliate_id=pl.when(pl.col("method") == "promotion_code")
        .then(pl.col("code_affiliate_id"))
        .otherwise(pl.col("affiliate_id")),
        offer_id=pl.when(pl.col("method") == "promotion_code")
        .then(pl.col("code_offer_id"))
        .otherwise(pl.col("offer_id")),
        link_code=pl.when(pl.col("method") == "promotion_code")
        .then(pl.lit(None, pl.String))
        .otherwise(pl.col("link_code")),
        chain_click_id=pl.when(pl.col("method") == "promotion_code")
        .then(pl.lit(None, pl.String))
        .otherwise(pl.col("chain_click_id")),
        clicked_at=pl.when(pl.col("method") == "promotion_code")
        .then(pl.lit(None, pl.Datetime("us", "UTC")))
        .otherwise(pl.col("clicked_at")),
    )


def _lead_origins(judged: pl.DataFrame, leads: pl.DataFrame, settings: AttributionSettings) -> pl.DataFrame:
    """Chains with no click, code or earlier attribution of their own, and the customer's lead: the
    lead's terms when usable, else the reason it is not."""
    usable_in = pl.duration(days=settings.lead_window_days)
    matched = judged.join(
        leads.select(
            "customer_id",
            "livemode",
            lead_click_id="click_id",
            lead_affiliate_id="affiliate_id",
            lead_offer_id="offer_id",
            lead_link_code="link_code",
            lead_at="created_at",
            lead_clicked_at="clicked_at",
            lead_reason="reason",
        ),
        on=["customer_id", "livemode"],
    )
    return matched.with_columns(
        lead_reason=pl.when(pl.col("lead_reason").is_not_null())
        .then(text("lead_", pl.col("lead_reason")))
        .when(pl.col("chain_first_at") < pl.col("lead_at"))
        .then(pl.lit(None, pl.String))  # paid before signing up: the lead says nothing
        # within the window from its start, as the lead's chain is picked (a trial checked out in time)
        .when(pl.col("chain_started_at") - pl.col("lead_at") > usable_in)
        .then(pl.lit("lead_expired")),
        lead_paid_before=pl.col("chain_first_at") < pl.col("lead_at"),
    ).filter(~pl.col("lead_paid_before"))


def attribute(
    payments: pl.DataFrame,
    clicks: pl.DataFrame,
    offers: pl.DataFrame,
    *,
    codes: pl.DataFrame | None = None,
    links: pl.DataFrame | None = None,
    objects: Objects | None = None,
    leads: pl.DataFrame | None = None,
    settings: AttributionSettings | None = None,
    affiliates: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split payments into conversions (attributed) and unattributed payments (with a reason).

    `codes` (program.codes), `links` and the staged `objects` attribute promotion codes; `leads`
    (marts.leads) attributes a customer's payments through their sign-up; `affiliates` (program) are
    the only affiliates a code's own Stripe metadata may name.
    """
    if payments.is_empty():
        return pl.DataFrame(schema=ATTRIBUTED_PAYMENT), pl.DataFrame(schema=UNATTRIBUTED_PAYMENT)
    settings = settings or AttributionSettings()
    chains = chain_clicks(payments)
    owners = (
        code_owners(chains, codes, links, objects, affiliates)
        if codes is not None and links is not None and objects is not None
        else _NO_CODES
    )
    judged_clicks, passed_over = validate_chain_clicks(chains, clicks, offers)
    judged = _candidates(judged_clicks, owners, settings)
    direct = judged.filter(pl.col("method").is_not_null()).select(
        "chain_id", origin_chain_id=pl.col("chain_id"), via=pl.lit(None, pl.String)
    )
    inherited = _customer_inheritance(
        judged.with_columns(
            reason=pl.when(pl.col("method").is_not_null()).then(None).otherwise(pl.col("reason"))
        )
    )
    origin_terms = judged.filter(pl.col("method").is_not_null()).select(
        pl.col("chain_id").alias("origin_chain_id"),
        "chain_click_id",
        "chain_click_payment_id",
        "affiliate_id",
        "offer_id",
        "link_code",
        pl.col("chain_first_at").alias("attributed_from_at"),
        "clicked_at",
        "method",
        "contested_by_affiliate_id",
        "contested_by_method",
    )
    orphans = judged.filter((pl.col("reason") == "no_click_id") & pl.col("customer_id").is_not_null()).join(
        inherited.select("chain_id"), on="chain_id", how="anti"
    )
    through_leads = (
        _lead_origins(orphans, leads, settings)
        if leads is not None
        else orphans.head(0).with_columns(lead_reason=pl.lit(None, pl.String))
    )
    # The lead attributes the customer's first such chain, when it comes within the lead window; the
    # customer's later chains continue that attribution (numbering, recurring terms), as a customer who
    # came through a click does, whenever they come.
    first_through_lead = (
        # the chain the customer started first (a trial's checkout before a purchase during the trial)
        through_leads.filter(pl.col("lead_reason").is_null())
        .sort("chain_started_at", "chain_first_at", "chain_id")
        .unique(["customer_id", "livemode"], keep="first", maintain_order=True)
        .select("customer_id", "livemode", first_chain_id=pl.col("chain_id"))
    )
    by_lead = (
        through_leads.join(first_through_lead, on=["customer_id", "livemode"])
        .filter(pl.col("chain_id") == pl.col("first_chain_id"))
        .drop("first_chain_id")
        if leads is not None
        else None
    )
    if not first_through_lead.is_empty():  # each chain with no click of its own: the earliest earlier
        # attributed chain of its customer, a lead's first included
        lead_first = first_through_lead["first_chain_id"].implode()
        attributed = pl.col("method").is_not_null() | pl.col("chain_id").is_in(lead_first)
        inherited = _customer_inheritance(
            judged.with_columns(reason=pl.when(attributed).then(None).otherwise(pl.col("reason"))),
            first_through_lead["first_chain_id"],
        )
    by_customer = inherited.with_columns(via=pl.lit("customer_earlier"))
    origin_of = [direct, by_customer]
    if by_lead is not None and not by_lead.is_empty():
        origin_of.append(by_lead.select("chain_id", origin_chain_id=pl.col("chain_id"), via=pl.lit("lead")))
        origin_terms = pl.concat(
            [
                origin_terms,
                by_lead.select(
                    origin_chain_id=pl.col("chain_id"),
                    chain_click_id=pl.col("lead_click_id"),
                    chain_click_payment_id=pl.lit(None, pl.String),
                    affiliate_id=pl.col("lead_affiliate_id"),
                    offer_id=pl.col("lead_offer_id"),
                    link_code=pl.col("lead_link_code"),
                    attributed_from_at=pl.col("chain_first_at"),
                    clicked_at=pl.col("lead_clicked_at"),
                    method=pl.lit("lead"),
                    contested_by_affiliate_id=pl.lit(None, pl.String),
                    contested_by_method=pl.lit(None, pl.String),
                ),
            ],
            how="vertical_relaxed",
        )
    origins = pl.concat(origin_of, how="vertical_relaxed")
    chained = _chains(payments)
    attributed = (
        chained.join(origins, on="chain_id")
        .join(origin_terms, on="origin_chain_id")
        .sort("occurred_at", "payment_id")
        .with_columns(
            payment_number=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("origin_chain_id"),
        )
    )
    own_click = pl.col("click_id") == pl.col("chain_click_id")
    method = pl.coalesce("via", "method")
    conversions = attributed.with_columns(
        conversion_id=text("cv_", pl.col("payment_id")),
        attribution_id=pl.col("origin_chain_id"),
        attribution_method=method,
        click_id_source=pl.when(method == "customer_earlier")
        .then(pl.lit("customer"))
        .when(method == "lead")
        .then(pl.lit("lead"))
        .when(method == "promotion_code")
        .then(pl.lit(None, pl.String))
        .when(own_click.fill_null(False) & pl.col("click_id_source").is_not_null())
        .then(pl.col("click_id_source"))
        .otherwise(pl.lit("subscription")),
        click_id=pl.col("chain_click_id"),
        conversion_type=pl.when(pl.col("payment_number") == 1)
        .then(pl.lit("initial"))
        .when(pl.col("billing_reason") == "subscription_update")
        .then(pl.lit("change"))
        .otherwise(pl.lit("renewal")),
    ).pipe(conform, ATTRIBUTED_PAYMENT)

    lead_reasons = through_leads.filter(pl.col("lead_reason").is_not_null()).select("chain_id", "lead_reason")
    unattributed = (
        chained.join(origins.select("chain_id"), on="chain_id", how="anti")
        .join(
            judged.select("chain_id", "reason", "detail", "chain_click_id"),
            on="chain_id",
        )
        .join(lead_reasons, on="chain_id", how="left")
        .join(passed_over, on=["chain_id", "click_id"], how="left")
        .with_columns(named_late=pl.col("late_reason").is_not_null())
        .with_columns(
            click_id=pl.coalesce("click_id", "chain_click_id"),
            # a payment that named a late click that does not count is told why
            reason=pl.coalesce(
                "lead_reason", pl.when(pl.col("named_late")).then(pl.col("late_reason")), "reason"
            ),
            detail=pl.when(pl.col("named_late") & pl.col("lead_reason").is_null())
            .then(pl.col("late_detail"))
            # a renewal naming another click than the one that decided its chain: whose reason this is
            .when(
                pl.col("lead_reason").is_null()
                & (pl.col("click_id") != pl.col("chain_click_id")).fill_null(False)
            )
            .then(
                text(
                    "the subscription is judged by click ",
                    pl.col("chain_click_id"),
                    ", which its first payment named",
                    pl.when(pl.col("detail").is_not_null())
                    .then(text(": ", pl.col("detail")))
                    .otherwise(pl.lit("")),
                )
            )
            .otherwise(pl.col("detail")),
        )
        .pipe(conform, UNATTRIBUTED_PAYMENT)
    )
    return conversions.sort("occurred_at", "payment_id"), unattributed.sort("occurred_at", "payment_id")
