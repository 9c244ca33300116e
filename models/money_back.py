"""Money back: refunds and disputes as payment adjustments, and the commission they take back.

Refunds are read from refund objects (`refund.created`/`refund.updated`/`refund.failed`/
`charge.refund.updated`, latest status per refund wins; `failed`/`canceled` take nothing back) and
from `charge.refunded`, whose
`amount_refunded` is cumulative: successive values become deltas, so two partial refunds count as two,
never three. A dispute takes the disputed amount back once funds are withdrawn (an inquiry,
`warning_*`, takes nothing); a dispute won (`won` or `charge.dispute.funds_reinstated`) puts it back.
Commission comes back in proportion: after each adjustment, the share of the payment taken back so
far (clipped to 0..100 %) sets the total reversed, rounded half up once; each line is the difference.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from core.contracts import COMMISSION_LINE, DISPUTE_EVENTS, PAYMENT_ADJUSTMENT, REFUND_EVENTS, conform, empty
from models.exprs import text
from models.holding import with_status
from models.objects import Objects, objects_where
from models.payments import CHARGE_IDS, INTENT_IDS

_NOT_TAKEN = ("failed", "canceled")
# events carrying a refund object; `charge.refunded` carries the charge with its cumulative total
_REFUND_OBJECT_EVENTS = [event for event, kind in REFUND_EVENTS.items() if kind == "refund"]
_STATUS_ORDER = {"pending": 0, "requires_action": 0, "succeeded": 1, "failed": 2, "canceled": 2}


def capture_releases(objects: Objects) -> pl.DataFrame:
    """(charge, released, captured_at) per charge captured in part on an API version before
    2025-03-31: Stripe then released the uncaptured rest as a Refund object and added it to the
    charge's `amount_refunded` (from 2025-03-31.basil it does neither). No money came back: the
    customer was never charged it. Read from the `charge.captured` event, whose `amount_refunded` is
    that release alone (0 from basil on): no refund can precede the capture."""
    captures = objects_where(objects, pl.col("event_type") == "charge.captured")
    return (
        captures.filter(pl.col("amount_refunded") > 0)
        .with_columns(
            released=pl.min_horizontal(
                "amount_refunded", (pl.col("amount") - pl.col("amount_captured")).clip(lower_bound=0)
            )
        )
        .group_by("obj_id")
        .agg(pl.col("released").min(), captured_at=pl.col("created_at").min())
        .filter(pl.col("released") > 0)
        .select(charge="obj_id", released="released", captured_at="captured_at")
    )


def _refund_rows(objects: Objects, releases: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    objs = objects_where(objects, pl.col("event_type").is_in(_REFUND_OBJECT_EVENTS))
    # The Refund object of a partial capture's release (its amount, created by the capture) is not
    # money back; the release is taken out of amount_refunded instead (refund_adjustments).
    release = (pl.col("amount") == pl.col("released")) & (
        pl.coalesce("created", "created_at") <= pl.col("captured_at")
    )
    objs = (
        objs.join(releases, on="charge", how="left")
        .filter(~release.fill_null(False))
        .drop("released", "captured_at")
    )
    # the latest event wins; in the same second, the status a refund can only reach later (Stripe:
    # pending → succeeded → failed), not the event id
    later = pl.col("status").replace_strict(_STATUS_ORDER, default=0, return_dtype=pl.Int8)
    latest = (
        objs.sort(pl.col("created_at"), later, pl.col("event_id"))
        .group_by("obj_id")
        .agg(pl.all().last())
        .filter(~pl.col("status").is_in(_NOT_TAKEN) & (pl.col("amount") > 0))
    )
    rows = latest.select(
        adjustment_id=pl.col("obj_id"),
        occurred_at=pl.coalesce("created", "created_at"),
        kind=pl.lit("refund"),
        amount_minor=-pl.col("amount"),
        currency=pl.col("currency").str.to_lowercase(),
        charge_id=pl.col("charge"),
        payment_intent_id=pl.col("payment_intent"),
        livemode="livemode",
        source_event_id="event_id",
    )
    # every refund object seen (failed ones too) explains part of the charge's cumulative total, from
    # the moment it was created: one amount per refund, with its creation time
    seen = (
        objs.filter(pl.col("amount") > 0)
        .group_by("obj_id")
        .agg(
            charge=pl.col("charge").drop_nulls().first(),
            refunded_at=pl.coalesce("created", "created_at").min(),
            amount=pl.col("amount").max(),
        )
        .select("charge", "refunded_at", "amount")
    )
    return rows, seen


def refund_adjustments(objects: Objects, releases: pl.DataFrame) -> pl.DataFrame:
    """Refund adjustments (negative amounts) per refund, from staged objects, less what partial
    captures released (capture_releases)."""
    refunds, seen = _refund_rows(objects, releases)
    charges = objects_where(objects, pl.col("event_type") == "charge.refunded")
    # cumulative amount_refunded, less a partial capture's release: one step per new value, in value
    # order (order-independent)
    steps = (
        charges.join(releases.select("charge", "released"), left_on="obj_id", right_on="charge", how="left")
        .with_columns(amount_refunded=pl.col("amount_refunded") - pl.col("released").fill_null(0))
        .drop("released")
        .filter(pl.col("amount_refunded") > 0)
        .sort("amount_refunded", "created_at", "event_id")
        .unique(["obj_id", "amount_refunded"], keep="first", maintain_order=True)
    )
    # A step is explained by the refunds created by then, not by one created later: a refund whose own
    # event never came shows at its step's time, not at the next refund's.
    explained = (
        steps.select("obj_id", "created_at", "amount_refunded")
        .join(seen, left_on="obj_id", right_on="charge", how="inner")
        .filter(pl.col("refunded_at") <= pl.col("created_at"))
        .group_by("obj_id", "amount_refunded")
        .agg(explained=pl.col("amount").sum())
    )
    cumulative = (
        steps.join(explained, on=["obj_id", "amount_refunded"], how="left")
        .with_columns(explained=pl.col("explained").fill_null(0))
        # refund objects win; the cumulative total only adds what no refund object explains
        .with_columns(
            unexplained=(pl.col("amount_refunded") - pl.col("explained")).clip(lower_bound=0),
        )
        .with_columns(
            delta=(pl.col("unexplained") - pl.col("unexplained").shift(1, fill_value=0).over("obj_id")).clip(
                lower_bound=0
            )
        )
        .filter(pl.col("delta") > 0)
        .select(
            adjustment_id=text(pl.col("obj_id"), ":refunded:", pl.col("amount_refunded")),
            occurred_at="created_at",
            kind=pl.lit("refund"),
            amount_minor=-pl.col("delta"),
            currency=pl.col("currency").str.to_lowercase(),
            charge_id="obj_id",
            payment_intent_id="payment_intent",
            livemode="livemode",
            source_event_id="event_id",
        )
    )
    return pl.concat([refunds, cumulative], how="diagonal_relaxed")


def dispute_adjustments(objects: Objects) -> pl.DataFrame:
    """Disputes: funds withdrawn (negative) and, when won, reinstated (positive)."""
    objs = objects_where(objects, pl.col("event_type").is_in(list(DISPUTE_EVENTS)))
    inquiry = pl.col("status").str.starts_with("warning_")
    withdrawal = pl.col("event_type") == "charge.dispute.funds_withdrawn"
    withdraws = withdrawal | ~inquiry
    # A withdrawal is never the win, even when the object it carries says `won`: a backfilled
    # snapshot carries the dispute's final status on the event dated at its withdrawal.
    wins = (pl.col("event_type") == "charge.dispute.funds_reinstated") | (
        (pl.col("status") == "won") & ~withdrawal
    )
    per_dispute = (
        objs.sort("created_at", "event_id")
        .group_by("obj_id")
        .agg(
            withdrawn_at=pl.col("created_at").filter(withdraws).min(),
            withdrawn_event=pl.col("event_id").filter(withdraws).first(),
            won_at=pl.col("created_at").filter(wins).min(),
            won_event=pl.col("event_id").filter(wins).first(),
            amount=pl.col("amount").last(),
            currency=pl.col("currency").last().str.to_lowercase(),
            charge=pl.col("charge").last(),
            payment_intent=pl.col("payment_intent").drop_nulls().last(),
            livemode=pl.col("livemode").last(),
        )
        .filter(pl.col("withdrawn_at").is_not_null())
    )
    common = {
        "currency": pl.col("currency"),
        "charge_id": pl.col("charge"),
        "payment_intent_id": pl.col("payment_intent"),
        "livemode": pl.col("livemode"),
    }
    withdrawn = per_dispute.select(
        adjustment_id=text(pl.col("obj_id"), ":withdrawn"),
        occurred_at="withdrawn_at",
        kind=pl.lit("dispute"),
        amount_minor=-pl.col("amount"),
        source_event_id="withdrawn_event",
        **common,
    )
    reinstated = per_dispute.filter(pl.col("won_at").is_not_null()).select(
        adjustment_id=text(pl.col("obj_id"), ":reinstated"),
        occurred_at=pl.max_horizontal("won_at", "withdrawn_at"),
        kind=pl.lit("dispute_reversal"),
        amount_minor=pl.col("amount"),
        source_event_id="won_event",
        **common,
    )
    return pl.concat([withdrawn, reinstated], how="diagonal_relaxed")


def _every(column: str, listed: str, payments: pl.DataFrame) -> pl.DataFrame:
    """(`column`, payment_id) for every charge or PaymentIntent of each payment: all of them when
    build_payments listed them (an invoice paid in parts has several), else the payment's own one."""
    ids = (
        pl.concat_list(pl.col(column), pl.col(listed))
        if listed in payments.columns
        else pl.concat_list(column)
    )
    return (
        payments.select("payment_id", ids.list.drop_nulls().alias(column))
        .explode(column)
        .filter(pl.col(column).is_not_null())
        .unique(column, keep="first", maintain_order=True)
        .select(column, "payment_id")
    )


def build_adjustments(objects: Objects, payments: pl.DataFrame, releases: pl.DataFrame) -> pl.DataFrame:
    """marts.payment_adjustments from staged objects (payment_id null when the payment was never seen);
    `releases` is capture_releases of the payment events."""
    adjustments = pl.concat(
        [refund_adjustments(objects, releases), dispute_adjustments(objects)], how="diagonal_relaxed"
    )
    if adjustments.is_empty():
        return empty(PAYMENT_ADJUSTMENT)
    by_charge = _every("charge_id", CHARGE_IDS, payments).rename({"payment_id": "payment_by_charge"})
    by_intent = _every("payment_intent_id", INTENT_IDS, payments).rename({"payment_id": "payment_by_intent"})
    linked = (
        adjustments.join(by_charge, on="charge_id", how="left")
        .join(by_intent, on="payment_intent_id", how="left")
        .with_columns(payment_id=pl.coalesce("payment_by_charge", "payment_by_intent"))
    )
    return conform(linked, PAYMENT_ADJUSTMENT).sort("occurred_at", "adjustment_id")


def refunded_for_good(
    conversions: pl.DataFrame, payments: pl.DataFrame, adjustments: pl.DataFrame
) -> pl.Series:
    """The attributed payments whose refunds and disputes (net of disputes won and refunds that
    failed) took back their whole amount, of attributions with no other payment that stuck (a
    subscription refunded at first that keeps renewing stuck)."""
    taken = (
        adjustments.filter(pl.col("payment_id").is_not_null())
        .group_by("payment_id")
        .agg(taken=(-pl.col("amount_minor")).sum())
    )
    refunded = (
        payments.select("payment_id", "amount_minor")
        .join(taken, on="payment_id")
        .filter((pl.col("amount_minor") > 0) & (pl.col("taken") >= pl.col("amount_minor")))
        .get_column("payment_id")
        .implode()
    )
    is_refunded = pl.col("payment_id").is_in(refunded)
    stuck = conversions.filter(~is_refunded).get_column("attribution_id").implode()
    return conversions.filter(is_refunded & ~pl.col("attribution_id").is_in(stuck)).get_column("payment_id")


def adjustment_lines(
    adjustments: pl.DataFrame, commissions: pl.DataFrame, payments: pl.DataFrame, now: datetime
) -> pl.DataFrame:
    """Reversal and reinstatement lines for adjusted payments that earned a commission.

    `commissions` are the `commission` ledger lines; a commission fully reversed before its
    payable_on is `void`, together with its reversals.
    """
    if adjustments.is_empty() or commissions.is_empty():
        return pl.DataFrame(schema=COMMISSION_LINE)
    paid = payments.select("payment_id", paid_minor="amount_minor")
    base = commissions.select(
        "payment_id",
        "conversion_id",
        "affiliate_id",
        "offer_id",
        "currency",
        "livemode",
        commission_minor="amount_minor",
        commission_payable_on="payable_on",
    )
    taken_so_far = (-pl.col("amount_minor")).cum_sum().over("payment_id")
    commission, taken, paid_total = (
        pl.col("commission_minor").cast(pl.Int128),
        pl.col("taken").cast(pl.Int128),
        pl.col("paid_minor").cast(pl.Int128),
    )
    steps = (
        adjustments.filter(pl.col("payment_id").is_not_null())
        .join(base, on="payment_id", suffix="_adj")
        .join(paid, on="payment_id")
        .sort("occurred_at", "adjustment_id")
        .with_columns(taken=taken_so_far.clip(0, pl.col("paid_minor")))
        # total taken back after this step: commission × taken / paid, rounded half up, once
        .with_columns(
            reversed_total=((2 * commission * taken + paid_total) // (2 * paid_total)).cast(pl.Int64)
        )
        .with_columns(
            amount=-(
                pl.col("reversed_total") - pl.col("reversed_total").shift(1, fill_value=0).over("payment_id")
            )
        )
    )
    lines = steps.filter(pl.col("amount") != 0).with_columns(
        line_id=text(pl.col("conversion_id"), ":", pl.col("adjustment_id")),
        kind=pl.when(pl.col("amount") < 0).then(pl.lit("reversal")).otherwise(pl.lit("reinstatement")),
        rule=text(
            pl.col("kind").replace({"dispute_reversal": "dispute won"}),
            " ",
            pl.col("amount_minor").abs(),
            " ",
            pl.col("currency"),
            ": ",
            pl.col("taken"),
            " of ",
            pl.col("paid_minor"),
            " taken back so far, so ",
            pl.col("reversed_total"),
            " of the ",
            pl.col("commission_minor"),
            " commission",
        ),
        base_amount_minor=pl.col("amount_minor"),
        amount_minor=pl.col("amount"),
        earned_at=pl.col("occurred_at"),
        payable_on=pl.max_horizontal(pl.col("occurred_at").dt.date(), pl.col("commission_payable_on")),
        period=pl.col("occurred_at").dt.strftime("%Y-%m"),
    )
    lines = with_status(lines, now)
    return conform(lines, COMMISSION_LINE)


def void_fully_reversed(lines: pl.DataFrame) -> pl.DataFrame:
    """A commission fully taken back before its payable_on is `void`, with its reversals."""
    per_conversion = lines.group_by("conversion_id").agg(
        net=pl.col("amount_minor").sum(),
        has_reversal=(pl.col("kind") == "reversal").any(),
        payable_on=pl.col("payable_on").filter(pl.col("kind") == "commission").first(),
        last_adjusted_on=pl.col("earned_at").filter(pl.col("kind") != "commission").max().dt.date(),
    )
    void = per_conversion.filter(
        pl.col("has_reversal") & (pl.col("net") == 0) & (pl.col("last_adjusted_on") < pl.col("payable_on"))
    ).select("conversion_id", void=pl.lit(True))
    return (
        lines.join(void, on="conversion_id", how="left")
        .with_columns(status=pl.when(pl.col("void")).then(pl.lit("void")).otherwise(pl.col("status")))
        .drop("void")
    )
