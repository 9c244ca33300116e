"""Payout files: what each affiliate is owed for a closed month, in the bulk-upload format of PayPal
Payouts or Wise batch payments, or as a plain CSV. No Dagster here: the CLI calls it, an asset can.

Amounts are the closed month's frozen statements' `payable_minor`; where to send them is the program
file's `paypal_email` / `wise_email` as it is now (a payout goes where the affiliate asks today).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from core.program import Program, ProgramError, load_program
from core.settings import Settings
from core.state.closed_periods import PeriodError, check_period, closed_at, frozen_period
from models.money import exponent, format_minor
from pipelines.lib.csv_text import safe_cell
from pipelines.lib.files import writable_dir, write_all_or_none

PROVIDERS = ("paypal", "wise", "csv")
EMAIL_KEYS = {"paypal": "paypal_email", "wise": "wise_email"}

# PayPal's currency codes (developer.paypal.com/api/rest/reference/currency-codes): Payouts pays in
# these only, and in whole units for the three marked there as not supporting decimals.
# fmt: off
PAYPAL_CURRENCIES = frozenset([
    "aud", "brl", "cad", "cny", "czk", "dkk", "eur", "hkd", "huf", "ils", "jpy", "myr",
    "mxn", "twd", "nzd", "nok", "php", "pln", "gbp", "sgd", "sek", "chf", "thb", "usd",
])
# fmt: on
PAYPAL_WHOLE_UNITS = frozenset(["huf", "jpy", "twd"])
PAYPAL_CUSTOMER_ID_MAX = 30  # PayPal's limit on its "Customer ID" column
# Rows one upload takes: PayPal Payouts' web upload "a maximum of 5000 rows", Wise's batch file "up to
# 1,000 transfers"; more are split into numbered parts, each uploaded on its own.
PAYPAL_MAX_ROWS = 5000
WISE_MAX_ROWS = 1000

DUE = {
    "period": pl.String,
    "affiliate_id": pl.String,
    "name": pl.String,
    "email": pl.String,
    "paypal_email": pl.String,
    "wise_email": pl.String,
    "currency": pl.String,
    "amount_minor": pl.Int64,
    "pending_minor": pl.Int64,
}
PLAIN_COLUMNS = [
    "period",
    "affiliate_id",
    "name",
    "email",
    "paypal_email",
    "wise_email",
    "currency",
    "amount_minor",
    "amount",
]
WISE_COLUMNS = [
    "name",
    "recipientEmail",
    "paymentReference",
    "receiverType",
    "amountCurrency",
    "amount",
    "sourceCurrency",
    "targetCurrency",
]


class PayoutError(RuntimeError):
    """No payout file can be made (month not closed, bad arguments or program file); nothing written."""


@dataclass(frozen=True)
class PayoutExport:
    period: str
    fmt: str
    closed_at: datetime
    files: list[Path]
    paid: pl.DataFrame  # DUE: the rows in the files
    left_out: pl.DataFrame  # DUE and `reason`: payable, but not in the files, and why
    pending: pl.DataFrame  # DUE: amounts a month closed with --force froze as pending, in no file
    removed: list[Path] = field(default_factory=list)  # this month's files of an earlier export, removed
    held: pl.DataFrame | None = None  # DUE: amounts frozen held for review, in no file


def _owed(statements: pl.DataFrame, program: Program, amount: str) -> pl.DataFrame:
    """DUE rows for the statements' positive `amount` column, by currency then affiliate, with the
    affiliate's name and payout emails from the program file (null for an affiliate no longer in it)."""
    rows = [
        {"affiliate_id": a.id, "name": a.name, "email": a.email}
        | {"paypal_email": a.paypal_email, "wise_email": a.wise_email}
        for a in program.affiliates
    ]
    fields = ("affiliate_id", "name", "email", "paypal_email", "wise_email")
    affiliates = pl.DataFrame(rows, schema={f: DUE[f] for f in fields})
    return (
        statements.filter(pl.col(amount) > 0)
        .join(affiliates, on="affiliate_id", how="left")
        .with_columns(amount_minor=pl.col(amount))
        .select(list(DUE))
        .cast(DUE)  # type: ignore[arg-type]
        .sort("currency", "affiliate_id")
    )


def payouts_due(statements: pl.DataFrame, program: Program) -> pl.DataFrame:
    """One row (DUE) per affiliate and currency with a positive payable amount: what is owed now."""
    return _owed(statements, program, "payable_minor")


def pending_due(statements: pl.DataFrame, program: Program) -> pl.DataFrame:
    """The amounts a month closed with --force froze as pending: in no payout file of that month;
    they are paid from its statement once approved (docs/rules.md)."""
    return _owed(statements, program, "pending_minor")


def held_due(statements: pl.DataFrame, program: Program) -> pl.DataFrame:
    """The amounts frozen held for review (an open flag when the month closed): in no payout file of
    that month; a decision pays or voids them in the first open month (a correction)."""
    if "held_minor" not in statements.columns:  # a month closed before lines could be held
        return _owed(statements.with_columns(held_minor=pl.lit(0, pl.Int64)), program, "held_minor")
    return _owed(statements, program, "held_minor")


def _whole_units(amount_minor: int, currency: str) -> bool:
    return amount_minor % 10 ** exponent(currency) == 0


def _reason(row: dict, fmt: str) -> str | None:
    """Why a payable row cannot go in this provider's file, or None when it can."""
    if row["name"] is None:
        return "not in the program file"
    key = EMAIL_KEYS.get(fmt)
    if key and row[key] is None:
        return f"no {key} in the program file"
    currency = row["currency"]
    if fmt == "paypal" and currency not in PAYPAL_CURRENCIES:
        return f"PayPal Payouts does not pay in {currency.upper()}"
    if fmt == "paypal" and currency in PAYPAL_WHOLE_UNITS and not _whole_units(row["amount_minor"], currency):
        return f"PayPal pays {currency.upper()} in whole units only"
    return None


def split_for(due: pl.DataFrame, fmt: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows the provider's file can take, rows left out with a `reason`)."""
    reasons = pl.Series("reason", [_reason(row, fmt) for row in due.iter_rows(named=True)], pl.String)
    marked = due.with_columns(reasons)
    return marked.filter(pl.col("reason").is_null()).drop("reason"), marked.filter(
        pl.col("reason").is_not_null()
    )


def paypal_amount(amount_minor: int, currency: str) -> str:
    """PayPal's amount: a decimal point, the currency's decimals, whole units where PayPal wants them."""
    if currency in PAYPAL_WHOLE_UNITS:
        return str(
            amount_minor // 10 ** exponent(currency)
        )  # huf and twd have cents at Stripe, not at PayPal
    return format_minor(amount_minor, currency)


def _csv(rows: list[list[str]], for_people: bool = False) -> bytes:
    """CRLF CSV; `for_people` (opened in a spreadsheet) writes formula-like text as text. A provider's
    upload takes its cells as written: the program file refuses what would be a formula there."""
    out = io.StringIO()
    cells = [[safe_cell(cell) for cell in row] for row in rows] if for_people else rows
    csv.writer(out, lineterminator="\r\n").writerows(cells)
    return out.getvalue().encode("utf-8")


def paypal_file(paid: pl.DataFrame, period: str) -> bytes:
    """PayPal Payouts web upload: no header row; recipient, amount, currency, customer id, note to
    recipient, recipient wallet. One currency per file."""
    rows = [
        [
            row["paypal_email"],
            paypal_amount(row["amount_minor"], row["currency"]),
            row["currency"].upper(),
            row["affiliate_id"] if len(row["affiliate_id"]) <= PAYPAL_CUSTOMER_ID_MAX else "",
            f"Affiliate commissions for {period}",
            "PAYPAL",
        ]
        for row in paid.iter_rows(named=True)
    ]
    return _csv(rows)


def wise_file(paid: pl.DataFrame, period: str) -> bytes:
    """Wise batch payment, "send by email" template: Wise emails each recipient for their bank details.
    The affiliate gets the exact amount (amountCurrency = target), paid from a balance in the same
    currency; Wise's fee is the merchant's."""
    rows = [
        [
            row["name"],
            row["wise_email"],
            f"Commission {period}",  # 18 characters: within every bank's reference limit Wise lists
            "PERSON",
            "target",
            format_minor(row["amount_minor"], row["currency"]),
            row["currency"].upper(),
            row["currency"].upper(),
        ]
        for row in paid.iter_rows(named=True)
    ]
    return _csv([WISE_COLUMNS, *rows])


def plain_file(paid: pl.DataFrame) -> bytes:
    """Every payable amount with the affiliate's details, for any other way of paying."""
    rows = [
        [
            *(row[c] or "" for c in PLAIN_COLUMNS[:6]),
            row["currency"],
            str(row["amount_minor"]),
            format_minor(row["amount_minor"], row["currency"]),
        ]
        for row in paid.iter_rows(named=True)
    ]
    return _csv([PLAIN_COLUMNS, *rows], for_people=True)


def _parts(name: str, rows: pl.DataFrame, limit: int) -> dict[str, pl.DataFrame]:
    """`name.csv` for rows within the provider's limit per file; `name.part1of3.csv`, ... beyond it."""
    if rows.height <= limit:
        return {f"{name}.csv": rows}
    parts = [rows.slice(start, limit) for start in range(0, rows.height, limit)]
    return {f"{name}.part{n}of{len(parts)}.csv": part for n, part in enumerate(parts, 1)}


def _files(paid: pl.DataFrame, fmt: str, out: Path, period: str) -> dict[Path, bytes]:
    stem = f"payouts-{period}"
    if fmt == "paypal":
        return {
            out / name: paypal_file(part, period)
            for (currency,), rows in paid.group_by("currency", maintain_order=True)
            for name, part in _parts(f"{stem}.paypal.{currency}", rows, PAYPAL_MAX_ROWS).items()
        }
    if paid.is_empty():
        return {}
    if fmt == "wise":
        return {
            out / name: wise_file(part, period)
            for name, part in _parts(f"{stem}.wise", paid, WISE_MAX_ROWS).items()
        }
    return {out / f"{stem}.csv": plain_file(paid)}


def _stale(out: Path, period: str, fmt: str, written: set[Path]) -> list[Path]:
    """This month's files of this provider an earlier export left in `out` that this one did not
    write (split in parts then, whole now; a currency nobody is owed any more): uploading the folder
    as it is would pay twice."""
    if fmt == "csv":
        return []
    # exactly the names _files gives, nothing a person named beside them
    middle = r"\.paypal\.[a-z]{3}" if fmt == "paypal" else r"\.wise"
    ours = re.compile(rf"payouts-{re.escape(period)}{middle}(\.part[1-9][0-9]*of[1-9][0-9]*)?\.csv")
    return sorted(
        path
        for path in out.glob(f"payouts-{period}.{fmt}*.csv")
        if ours.fullmatch(path.name) and path not in written and path.is_file()
    )


def _writer(data: bytes) -> Callable[[Path], None]:
    return lambda tmp: tmp.write_bytes(data)


def export_payouts(settings: Settings, period: str, fmt: str, out_dir: Path | None = None) -> PayoutExport:
    """Write the payout file(s) of a closed month for `fmt`; say what is in them and what is not."""
    try:
        check_period(period)
    except PeriodError as exc:
        raise PayoutError(str(exc)) from None
    if fmt not in PROVIDERS:
        raise PayoutError(f"format must be one of {', '.join(PROVIDERS)}, got {fmt!r}")
    period_closed_at = closed_at(settings).get(period)
    if period_closed_at is None:
        now = datetime.now(UTC)
        advice = (
            f"close it with `attro close-period {period}`"
            if period < now.strftime("%Y-%m")
            else f"it can be closed once it is over; today is {now:%Y-%m-%d}"
        )
        raise PayoutError(
            f"{period} is not closed: payouts are made from closed months only, whose amounts can no "
            f"longer change ({advice})"
        )
    try:
        program = load_program(settings.program_path)
    except ProgramError as exc:
        raise PayoutError(str(exc)) from None
    _lines, statements = frozen_period(settings, period)
    paid, left_out = split_for(payouts_due(statements, program), fmt)
    pending = pending_due(statements, program)
    held = held_due(statements, program)
    out = out_dir or settings.exports_dir
    files = _files(paid, fmt, out, period)
    try:
        writable_dir(out)
        write_all_or_none({path: _writer(data) for path, data in files.items()})
        removed = _stale(out, period, fmt, set(files))
        for stale in removed:
            stale.unlink()
    except OSError as exc:
        raise PayoutError(f"cannot write payout files to {out}: {exc.strerror or exc}") from None
    return PayoutExport(period, fmt, period_closed_at, list(files), paid, left_out, pending, removed, held)


def payout_row(row: dict, detail: str) -> str:
    """One DUE row as the CLI and the reports show it: `  jane  usd  19.80  jane@pay.example`."""
    amount = format_minor(row["amount_minor"], row["currency"])
    return f"  {row['affiliate_id']:<16} {row['currency']} {amount:>12}  {detail}"


def not_paid_report(payouts: PayoutExport) -> list[str]:
    """What finance must know besides the files, in lines of text: affiliates a file of the other
    provider pays too, payable amounts left out of the files and why, amounts frozen as pending.
    Empty when the files pay everything owed, and only that."""
    report: list[str] = []
    other = {"paypal": "wise", "wise": "paypal"}.get(payouts.fmt)
    both = payouts.paid.filter(pl.col(f"{other}_email").is_not_null()) if other else payouts.paid.clear()
    if not both.is_empty():
        ids = sorted(set(both["affiliate_id"]))
        report.append(
            f"note: {', '.join(ids)} also {'has' if len(ids) == 1 else 'have'} a {other}_email, so a {other}"
            " file pays them too: upload one provider's file per affiliate, or keep one of the two keys"
        )
    if not payouts.left_out.is_empty():
        report.append(
            "NOT IN THE FILE: payable, but pay these another way, or fix the program file and export again:"
        )
        report += [payout_row(row, row["reason"]) for row in payouts.left_out.iter_rows(named=True)]
    if not payouts.pending.is_empty():
        report.append(
            "still pending when the month was closed (--force), in no file: pay once their payable_on has"
            " passed (a sale refunded before then is taken back by a correction in the first open month):"
        )
        report += [payout_row(row, "pending") for row in payouts.pending.iter_rows(named=True)]
    if payouts.held is not None and not payouts.held.is_empty():
        report.append(
            "held for review when the month was closed, in no file: a decision (`attro review`) pays or"
            " voids them in the first open month:"
        )
        report += [payout_row(row, "held") for row in payouts.held.iter_rows(named=True)]
    return report
