"""Payout files (PayPal Payouts, Wise batch, plain CSV) from a closed month's frozen statements: exact
bytes per provider, one row per affiliate and currency owed money, what is left out and why, open
months refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from core.settings import Settings
from pipelines import payouts
from pipelines.payouts import PayoutError, export_payouts, not_paid_report
from tests.support.closed_months import close_by_hand, program_with_affiliates, statement

AFFILIATES = [
    {"id": "ana", "name": "Ana Lima", "email": "ana@example.com"}
    | {"paypal_email": "ana.pay@example.com", "wise_email": "ana@wise.example"},
    {"id": "bo", "name": "Bo, Ltd", "paypal_email": "bo@example.com"},  # a comma in the name
    {"id": "cy", "name": "Cy Young", "wise_email": "cy@example.com"},
]
JANUARY = [
    statement("ana", "usd", 1980),
    statement("ana", "jpy", 500),
    statement("ana", "kwd", 1235),
    statement("bo", "usd", 500),
    statement("bo", "eur", 1234),
    statement("bo", "gbp", 0),  # nothing owed: no row anywhere
    statement("cy", "usd", 700),
    statement("cy", "eur", -300),  # never payable, however a statement came to say so
    statement("dee", "usd", 100),  # an affiliate since removed from the program file
]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A data dir with January 2026 closed (JANUARY's statements) and the AFFILIATES program file."""
    program = program_with_affiliates(tmp_path / "program.toml", AFFILIATES)
    settings = Settings(data_dir=tmp_path / "data", program=program)
    close_by_hand(settings, "2026-01", JANUARY)
    return settings


def written(export: Any) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in export.files}


def left_out(export: Any) -> list[tuple[str, str, int, str]]:
    return export.left_out.select("affiliate_id", "currency", "amount_minor", "reason").rows()


# each provider's file, byte for byte ----------------------------------------------------------


def test_paypal_gets_one_headerless_file_per_currency_in_its_upload_columns(
    settings: Settings, tmp_path: Path
) -> None:
    export = export_payouts(settings, "2026-01", "paypal", tmp_path / "out")

    assert written(export) == {
        "payouts-2026-01.paypal.eur.csv": (
            b"bo@example.com,12.34,EUR,bo,Affiliate commissions for 2026-01,PAYPAL\r\n"
        ),
        "payouts-2026-01.paypal.jpy.csv": (
            b"ana.pay@example.com,500,JPY,ana,Affiliate commissions for 2026-01,PAYPAL\r\n"
        ),
        "payouts-2026-01.paypal.usd.csv": (
            b"ana.pay@example.com,19.80,USD,ana,Affiliate commissions for 2026-01,PAYPAL\r\n"
            b"bo@example.com,5.00,USD,bo,Affiliate commissions for 2026-01,PAYPAL\r\n"
        ),
    }
    assert left_out(export) == [
        ("ana", "kwd", 1235, "PayPal Payouts does not pay in KWD"),
        ("cy", "usd", 700, "no paypal_email in the program file"),
        ("dee", "usd", 100, "not in the program file"),
    ]


def test_wise_gets_its_batch_template_with_the_exact_amount_to_each_recipient(
    settings: Settings, tmp_path: Path
) -> None:
    export = export_payouts(settings, "2026-01", "wise", tmp_path / "out")

    assert written(export) == {
        "payouts-2026-01.wise.csv": (
            b"name,recipientEmail,paymentReference,receiverType,amountCurrency,amount,sourceCurrency,targetCurrency\r\n"
            b"Ana Lima,ana@wise.example,Commission 2026-01,PERSON,target,500,JPY,JPY\r\n"
            b"Ana Lima,ana@wise.example,Commission 2026-01,PERSON,target,1.235,KWD,KWD\r\n"
            b"Ana Lima,ana@wise.example,Commission 2026-01,PERSON,target,19.80,USD,USD\r\n"
            b"Cy Young,cy@example.com,Commission 2026-01,PERSON,target,7.00,USD,USD\r\n"
        )
    }
    assert left_out(export) == [
        ("bo", "eur", 1234, "no wise_email in the program file"),
        ("bo", "usd", 500, "no wise_email in the program file"),
        ("dee", "usd", 100, "not in the program file"),
    ]


def test_the_plain_csv_lists_every_amount_owed_with_the_affiliates_details(
    settings: Settings, tmp_path: Path
) -> None:
    export = export_payouts(settings, "2026-01", "csv", tmp_path / "out")

    assert written(export) == {
        "payouts-2026-01.csv": (
            b"period,affiliate_id,name,email,paypal_email,wise_email,currency,amount_minor,amount\r\n"
            b'2026-01,bo,"Bo, Ltd",,bo@example.com,,eur,1234,12.34\r\n'
            b"2026-01,ana,Ana Lima,ana@example.com,ana.pay@example.com,ana@wise.example,jpy,500,500\r\n"
            b"2026-01,ana,Ana Lima,ana@example.com,ana.pay@example.com,ana@wise.example,kwd,1235,1.235\r\n"
            b"2026-01,ana,Ana Lima,ana@example.com,ana.pay@example.com,ana@wise.example,usd,1980,19.80\r\n"
            b'2026-01,bo,"Bo, Ltd",,bo@example.com,,usd,500,5.00\r\n'
            b"2026-01,cy,Cy Young,,,cy@example.com,usd,700,7.00\r\n"
        )
    }
    assert left_out(export) == [("dee", "usd", 100, "not in the program file")]


def test_paypal_gets_whole_units_where_it_takes_no_decimals(tmp_path: Path) -> None:
    program = program_with_affiliates(tmp_path / "program.toml", AFFILIATES)
    settings = Settings(data_dir=tmp_path / "data", program=program)
    close_by_hand(settings, "2026-01", [statement("ana", "huf", 123400), statement("bo", "huf", 123456)])

    export = export_payouts(settings, "2026-01", "paypal", tmp_path / "out")

    assert written(export) == {
        "payouts-2026-01.paypal.huf.csv": (
            b"ana.pay@example.com,1234,HUF,ana,Affiliate commissions for 2026-01,PAYPAL\r\n"
        )
    }
    assert left_out(export) == [("bo", "huf", 123456, "PayPal pays HUF in whole units only")]


# who is paid ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["paypal", "wise", "csv"])
def test_nothing_owed_means_no_row_and_no_listing(settings: Settings, tmp_path: Path, fmt: str) -> None:
    export = export_payouts(settings, "2026-01", fmt, tmp_path / "out")

    rows = export.paid.vstack(export.left_out.drop("reason"))
    assert ("bo", "gbp") not in rows.select("affiliate_id", "currency").rows()
    assert ("cy", "eur") not in rows.select("affiliate_id", "currency").rows()
    assert (rows["amount_minor"] > 0).all()
    assert b"gbp" not in b"".join(written(export).values()).lower()


def test_a_month_where_nobody_is_owed_anything_writes_no_file(tmp_path: Path) -> None:
    program = program_with_affiliates(tmp_path / "program.toml", AFFILIATES)
    settings = Settings(data_dir=tmp_path / "data", program=program)
    close_by_hand(settings, "2026-01", [statement("ana", "usd", 0)])

    export = export_payouts(settings, "2026-01", "csv", tmp_path / "out")

    assert export.files == [] and export.paid.is_empty() and export.left_out.is_empty()
    assert not any((tmp_path / "out").iterdir())


def test_amounts_a_forced_close_froze_as_pending_are_listed_apart_not_paid(tmp_path: Path) -> None:
    program = program_with_affiliates(tmp_path / "program.toml", AFFILIATES)
    settings = Settings(data_dir=tmp_path / "data", program=program)
    close_by_hand(settings, "2026-01", [statement("ana", "usd", 1980, pending_minor=300)])

    export = export_payouts(settings, "2026-01", "csv", tmp_path / "out")

    assert export.paid.select("affiliate_id", "amount_minor").rows() == [("ana", 1980)]
    assert export.pending.select("affiliate_id", "currency", "amount_minor").rows() == [("ana", "usd", 300)]


def test_payouts_of_the_demo_story_add_up_to_its_payable_statements(
    closed_jan_site: Any, tmp_path: Path
) -> None:
    export = export_payouts(closed_jan_site.settings, "2026-01", "csv", tmp_path)

    paid = dict(export.paid.group_by("currency").agg(pl.col("amount_minor").sum()).rows())
    payable = closed_jan_site.query(
        "select currency, sum(payable_minor) from marts.affiliate_statements"
        " where period = '2026-01' group by currency"
    )
    assert paid == {currency: int(total) for currency, total in payable}
    assert export.left_out.is_empty()


def test_files_beyond_a_providers_rows_per_upload_are_split_into_numbered_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payouts, "PAYPAL_MAX_ROWS", 2)
    monkeypatch.setattr(payouts, "WISE_MAX_ROWS", 2)
    people = [
        {
            "id": f"a{n}",
            "name": f"A {n}",
            "paypal_email": f"a{n}@pay.example",
            "wise_email": f"a{n}@wise.example",
        }
        for n in range(5)
    ]
    program = program_with_affiliates(tmp_path / "program.toml", people)
    settings = Settings(data_dir=tmp_path / "data", program=program)
    close_by_hand(settings, "2026-01", [statement(f"a{n}", "usd", 100 + n) for n in range(5)])

    paypal = written(export_payouts(settings, "2026-01", "paypal", tmp_path / "paypal"))
    wise = written(export_payouts(settings, "2026-01", "wise", tmp_path / "wise"))

    assert sorted(paypal) == [f"payouts-2026-01.paypal.usd.part{n}of3.csv" for n in (1, 2, 3)]
    assert [paypal[f"payouts-2026-01.paypal.usd.part{n}of3.csv"].count(b"\r\n") for n in (1, 2, 3)] == [
        2,
        2,
        1,
    ]
    assert sorted(wise) == [f"payouts-2026-01.wise.part{n}of3.csv" for n in (1, 2, 3)]
    # each Wise part is a whole upload: its own header row, then its transfers
    assert all(data.startswith(b"name,recipientEmail,") for data in wise.values())
    every_row = b"".join(paypal[name] for name in sorted(paypal)).decode().splitlines()
    assert [row.split(",")[0] for row in every_row] == [f"a{n}@pay.example" for n in range(5)]
    # exported again into the same folder once the files fit: the parts go, or the folder pays twice
    monkeypatch.setattr(payouts, "WISE_MAX_ROWS", 1000)
    kept = ["payouts-2026-01.wise-manual-adjustments.csv", "payouts-2026-01.wise copy.csv"]
    for name in kept:  # files a person named beside them stay (review)
        (tmp_path / "wise" / name).write_text("x")
    again = export_payouts(settings, "2026-01", "wise", tmp_path / "wise")
    assert [p.name for p in again.files] == ["payouts-2026-01.wise.csv"]
    assert [p.name for p in again.removed] == [f"payouts-2026-01.wise.part{n}of3.csv" for n in (1, 2, 3)]
    assert sorted(p.name for p in (tmp_path / "wise").iterdir()) == sorted(
        [*kept, "payouts-2026-01.wise.csv"]
    )


def test_what_the_files_do_not_pay_is_reported_in_words(settings: Settings, tmp_path: Path) -> None:
    held = statement("bo", "usd", 0) | {"held_minor": 490}  # frozen held for review (audit)
    close_by_hand(
        settings,
        "2026-02",
        [statement("ana", "usd", 1980, pending_minor=300), statement("cy", "usd", 700), held],
    )

    report = not_paid_report(export_payouts(settings, "2026-02", "paypal", tmp_path / "out"))

    assert report[0].startswith("note: ana also has a wise_email, so a wise file pays them too")
    assert report[1].startswith("NOT IN THE FILE:")
    assert report[2].split() == ["cy", "usd", "7.00", "no", "paypal_email", "in", "the", "program", "file"]
    assert report[3].startswith("still pending when the month was closed (--force)")
    assert report[4].split() == ["ana", "usd", "3.00", "pending"]
    assert report[5].startswith("held for review when the month was closed, in no file")
    assert report[6].split() == ["bo", "usd", "4.90", "held"]


def test_provider_uploads_take_their_cells_as_written_and_the_plain_csv_is_safe_to_open(
    tmp_path: Path,
) -> None:
    # Review: the PayPal file's Customer ID "-jane" became "'-jane" (and 31 characters for a 30-one).
    people = [{"id": "-" + "a" * 29, "name": "=Ana", "paypal_email": "ana@pay.example"}]
    program = program_with_affiliates(tmp_path / "program.toml", people)
    settings = Settings(data_dir=tmp_path / "data", program=program)
    close_by_hand(settings, "2026-01", [statement("-" + "a" * 29, "usd", 1980)])

    paypal = written(export_payouts(settings, "2026-01", "paypal", tmp_path / "paypal"))
    plain = written(export_payouts(settings, "2026-01", "csv", tmp_path / "plain"))

    row = paypal["payouts-2026-01.paypal.usd.csv"].decode().split(",")
    assert row[3] == "-" + "a" * 29  # as written, within PayPal's 30 characters
    assert ",'=Ana," in plain["payouts-2026-01.csv"].decode()  # a person's spreadsheet shows it as text


# refused ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "fmt", "problem"),
    [
        pytest.param(
            "2026-02", "csv", "2026-02 is not closed: payouts are made from closed months only", id="open"
        ),
        pytest.param("2026-13", "csv", "period must be YYYY-MM", id="bad-month"),
        pytest.param("2026-01", "venmo", "format must be one of paypal, wise, csv", id="bad-format"),
    ],
)
def test_payouts_are_refused_with_the_reason_and_nothing_written(
    settings: Settings, tmp_path: Path, period: str, fmt: str, problem: str
) -> None:
    with pytest.raises(PayoutError, match=re.escape(problem)):
        export_payouts(settings, period, fmt, tmp_path / "out")

    assert not (tmp_path / "out").exists()


def test_payouts_of_the_month_not_over_yet_do_not_advise_closing_it(
    settings: Settings, tmp_path: Path
) -> None:
    # Audit: the refusal said "close it with `attro close-period 2026-12`", which refuses a month not over.
    this_month = datetime.now(UTC).strftime("%Y-%m")
    with pytest.raises(PayoutError) as refused:
        export_payouts(settings, this_month, "csv", tmp_path / "out")

    assert "attro close-period" not in str(refused.value)
    assert "it can be closed once it is over" in str(refused.value)
    with pytest.raises(PayoutError, match=re.escape("close it with `attro close-period 2026-02`")):
        export_payouts(settings, "2026-02", "csv", tmp_path / "out")


def test_a_payout_file_that_cannot_be_written_leaves_nothing_partial(
    settings: Settings, tmp_path: Path, snapshot_tree: Callable
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "payouts-2026-01.paypal.usd.csv").mkdir()  # the last rename cannot replace a directory
    before = snapshot_tree(tmp_path)

    with pytest.raises(PayoutError, match="cannot write payout files"):
        export_payouts(settings, "2026-01", "paypal", out)

    assert snapshot_tree(tmp_path) == before
    assert sorted(p.name for p in out.iterdir()) == ["payouts-2026-01.paypal.usd.csv"]
