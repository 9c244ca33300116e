"""Closed periods: frozen ledger lines never change; later changes land in the first open month.

For every line of a closed month, what the recomputed line counts in statements is compared with what
the frozen line counted (the line plus any corrections already frozen later; a held or void line
counts 0). A difference becomes a new line in the first open month after it: the line itself when it
was never frozen (a late event), else a `:correction:<month>` line of the difference. So what the
frozen lines and the new ones count always equals what a full recomputation counts: a commission
frozen as owed and fully refunded later, before its payable_on, is void in the recomputation and so
taken back by a correction, not left owed beside a void reversal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import polars as pl

from core.contracts import LEDGER_LINE, NOT_IN_STATEMENT, conform
from models.holding import with_status


def next_month(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def first_open_after(period: str, closed: set[str]) -> str:
    """The first month after `period` that is not closed."""
    candidate = next_month(period)
    while candidate in closed:
        candidate = next_month(candidate)
    return candidate


# Lines held for review count in no statement total: what a closed month froze of them was never
# owed, so releasing one later (approved) carries its whole amount into the first open month. A line
# a review rejected or holds is `withheld` in the recomputation: it is owed nothing either.
WITHHELD = "withheld"


def _counted(amount: pl.Expr) -> pl.Expr:
    """The amount a frozen line added to its statement (0 for a held or void line)."""
    return pl.when(pl.col("status").is_in(NOT_IN_STATEMENT)).then(0).otherwise(amount)


def base_line_id(line_id: pl.Expr) -> pl.Expr:
    """The line a `:correction:<month>` line corrects, or a `:correction:<month>:<affiliate>` line
    moves to another affiliate (a line's own id otherwise)."""
    return line_id.str.replace(r":correction:\d{4}-\d{2}(:.*)?$", "")


def apply_closed_periods(
    computed: pl.DataFrame,
    frozen: pl.DataFrame,
    closed: set[str],
    now: datetime,
    why_not: Callable[[list[str]], dict[str, str]] | None = None,
) -> pl.DataFrame:
    """The ledger with closed months as frozen and every later difference carried forward; `why_not`
    (payment ids → why each earns nothing now) words the correction of a sale that no longer earns."""
    computed = computed.with_columns(carried_from_period=pl.lit(None, pl.String))
    if WITHHELD not in computed.columns:
        computed = computed.with_columns(pl.lit(False).alias(WITHHELD))
    if not closed:
        return conform(computed, LEDGER_LINE)
    frozen = conform(frozen, LEDGER_LINE)
    closed_list = sorted(closed)
    is_closed = pl.col("period").is_in(closed_list)
    open_lines = computed.filter(~is_closed)
    in_closed = computed.filter(is_closed)
    # per affiliate: a sale a later event gives to another affiliate (a late Checkout naming another
    # click) is taken back from the one a closed month paid and moved whole to the other (review: the
    # other was charged the difference, the first kept what it was paid)
    frozen_totals = frozen.group_by(base_line_id(pl.col("line_id")).alias("base_id"), "affiliate_id").agg(
        frozen_minor=_counted(pl.col("amount_minor")).sum(),
        frozen_period=pl.col("period").min(),
        template=pl.struct(pl.all()).sort_by("period").first(),
    )
    recomputed = in_closed.select(
        pl.col("line_id").alias("base_id"), "affiliate_id", pl.struct(pl.all()).alias("line")
    )
    compared = (
        recomputed.join(frozen_totals, on=["base_id", "affiliate_id"], how="full", coalesce=True)
        .with_columns(
            computed_minor=pl.when(
                pl.col("line").struct.field(WITHHELD)
                | pl.col("line").struct.field("status").is_in(NOT_IN_STATEMENT)
            )
            .then(0)
            .otherwise(pl.col("line").struct.field("amount_minor"))
            .fill_null(0),
            frozen_minor=pl.col("frozen_minor").fill_null(0),
        )
        # a line never frozen (a late event) moves whatever it counts; a frozen one only if it changed
        .filter(
            (pl.col("computed_minor") != pl.col("frozen_minor"))
            | (pl.col("template").is_null() & pl.col("line").is_not_null())
        )
    )
    recomputed_ids = set(recomputed["base_id"])
    # lines of one id held by several affiliates (a sale moved, maybe back): each affiliate's new line
    # of it gets an id of its own, `<line_id>:correction:<month>:<affiliate>`
    owners = pl.concat(
        [frozen_totals.select("base_id", "affiliate_id"), recomputed.select("base_id", "affiliate_id")]
    )
    shared = set(owners.unique().group_by("base_id").len().filter(pl.col("len") > 1)["base_id"])
    gone = compared.filter(pl.col("line").is_null()).select(pl.col("template").struct.field("payment_id"))
    reasons = why_not(gone.to_series().drop_nulls().to_list()) if why_not and gone.height else {}
    carried: list[dict] = []
    for row in compared.iter_rows(named=True):
        line = {
            **(row["line"] or row["template"]),
            "affiliate_id": row["affiliate_id"],
        }  # a key: not in template
        natural = row["line"]["period"] if row["line"] else row["frozen_period"]
        target = first_open_after(natural, closed)
        delta = row["computed_minor"] - row["frozen_minor"]
        corrected = f"{row['base_id']}:correction:{target}"
        if row["base_id"] in shared:
            corrected += f":{row['affiliate_id']}"
        if row["template"] is None:  # never frozen: the late line itself moves forward
            line_id = corrected if row["base_id"] in shared else line["line_id"]
            carried.append(
                {**line, "line_id": line_id, "period": target, "carried_from_period": natural, "_keep": True}
            )
            continue
        kind = (
            "reversal" if delta < 0 else ("commission" if line["kind"] == "commission" else "reinstatement")
        )
        carried.append(
            {
                **line,
                "line_id": corrected,
                "kind": kind,
                "rule": _correction_rule(row, line["currency"], reasons, row["base_id"] in recomputed_ids),
                "amount_minor": delta,
                "period": target,
                "carried_from_period": natural,
            }
        )
    carried = _without_cancelling_corrections(carried)
    schema = {**LEDGER_LINE, WITHHELD: pl.Boolean, "_keep": pl.Boolean}
    moved = pl.DataFrame(carried, schema=schema) if carried else pl.DataFrame(schema=schema)
    if not moved.is_empty():
        # A correction is never void: what it corrects was already frozen (and maybe paid). A late line
        # moved whole stays held or void if it is (a void one counts nothing, like its void reversal);
        # otherwise its status follows its new month.
        kept = pl.col("_keep").fill_null(False) & pl.col("status").is_in(NOT_IN_STATEMENT)
        moved = moved.with_columns(
            payable_on=pl.max_horizontal("payable_on", (pl.col("period") + "-01").str.to_date("%Y-%m-%d"))
        )
        moved = pl.concat([moved.filter(kept), with_status(moved.filter(~kept), now)])
    ledger = pl.concat(
        [
            frozen,
            conform(open_lines, LEDGER_LINE),
            conform(moved, LEDGER_LINE),
        ]
    )
    return ledger.sort("period", "earned_at", "line_id")


def _correction_rule(row: dict, currency: str, why_not: dict[str, str], elsewhere: bool = False) -> str:
    """Why a closed month's line is corrected, in words: what was frozen, what it is now and by which
    rule (a release's rule change, a later refund or decision), or that a review released it."""
    frozen, now = row["template"], row["line"]
    if frozen["status"] == "held" and row["frozen_minor"] == 0 and now is not None:
        # approved in review, or its rule turned off: no flag holds it any more
        return f"released: held when {frozen['period']} closed; {now['rule']}"
    amounts = f"frozen {row['frozen_minor']}, now {row['computed_minor']} {currency}"
    said = f"correction of {row['base_id']} ({amounts})"
    if now is None and elsewhere:  # the line is another affiliate's now
        return f"{said}: the sale is attributed to another affiliate now"
    if now is None:
        why = why_not.get(frozen["payment_id"])
        if why is None and frozen["kind"] != "commission":  # a refund that failed, a dispute undone
            return f"{said}: the {frozen['kind']} no longer applies"
        return f"{said}: the sale no longer earns it" + (f": {why}" if why else "")
    if row["computed_minor"] == 0 and now["status"] in NOT_IN_STATEMENT:
        state = "held for review" if now["status"] == "held" else "void"
        return f"{said}: now {state}: {now['rule']}"
    return f"{said}: now {now['rule']}"


def _without_cancelling_corrections(carried: list[dict]) -> list[dict]:
    """Drop a conversion's corrections into one month that add up to 0: a commission and its reversal
    frozen void and no longer void (a dispute won later) change no total, and the reinstatement line
    says what happened."""
    sums: dict[tuple[str, str, str], int] = {}
    counts: dict[tuple[str, str, str], int] = {}
    for line in carried:
        if not line.get("_keep"):
            key = (line["conversion_id"], line["affiliate_id"], line["period"])
            sums[key] = sums.get(key, 0) + line["amount_minor"]
            counts[key] = counts.get(key, 0) + 1
    cancelled = {key for key, total in sums.items() if total == 0 and counts[key] > 1}
    return [
        line
        for line in carried
        if line.get("_keep") or (line["conversion_id"], line["affiliate_id"], line["period"]) not in cancelled
    ]
