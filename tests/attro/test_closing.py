"""Ledger statuses and closed periods end to end: landing files → pipeline → close-period → later events."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from attro.closing import close_period
from core.state.closed_periods import PeriodError, frozen_affiliates, load_closed
from pipelines.exports import export_commissions
from tests.support.clock import utc
from tests.support.exports import read_csv_export

NOW2 = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)


@dataclass
class AfterClose:
    """January closed at NOW1, then two refunds of January payments landed, run again at NOW2."""

    site: Any
    jan_lines_at_close: pl.DataFrame
    jan_statements_at_close: pl.DataFrame
    state_at_close: dict[str, bytes]


@pytest.fixture(scope="module")
def after_close(
    closed_jan_site: Any, clone_site: Callable, tmp_path_factory: pytest.TempPathFactory
) -> AfterClose:
    site = clone_site(closed_jan_site, tmp_path_factory.mktemp("after-close") / "site")
    state = site.settings.state_dir / "closed_periods"
    before = {str(p.relative_to(state)): p.read_bytes() for p in sorted(state.rglob("*")) if p.is_file()}
    jan_lines, jan_statements = site.lines("period = '2026-01'"), site.statements("period = '2026-01'")

    sub = site.flows["sub"]
    # refunded after January closed: 3300 of the first 9900 invoice → 660 of its 1980
    refund = site.sim.refund(sub, datetime(2026, 3, 25, 9, tzinfo=UTC), 3300)
    site.land_events(refund.events, datetime(2026, 3, 25, 9, 1, tzinfo=UTC))
    # refunded on Jan 28, but the events reach us only on Mar 26: 1000 of 4000 → 100 of omar's 400
    late = site.sim.refund(site.flows["omar_usd"], datetime(2026, 1, 28, 9, tzinfo=UTC), 1000)
    site.land_events(late.events, datetime(2026, 3, 26, 9, tzinfo=UTC), name="host-2-0000bbbb")
    site.run(NOW2)
    return AfterClose(site, jan_lines, jan_statements, before)


def _sums(lines: pl.DataFrame) -> dict[str, int]:
    return dict(lines.group_by("conversion_id").agg(pl.col("amount_minor").sum()).rows())


# holding period and statuses ---------------------------------------------------------------


def test_statuses_follow_payable_on_at_the_pinned_now(base_site: Any) -> None:
    lines = base_site.lines()
    statuses = dict(zip(lines["line_id"], lines["status"], strict=True))
    ids = base_site.ids

    assert statuses[f"cv_{ids['sub_first_invoice']}:commission"] == "approved"  # payable Feb 9
    assert statuses[f"cv_{ids['renewal_feb']}:commission"] == "approved"  # payable Mar 12
    assert statuses[f"cv_{ids['omar_feb']}:commission"] == "pending"  # payable Mar 27, now Mar 20


def test_a_rerun_on_a_later_day_changes_status_never_amounts(base_site: Any, copy_site: Callable) -> None:
    site = copy_site(base_site)
    before = site.lines()

    site.run(datetime(2026, 5, 1, tzinfo=UTC))
    after = site.lines()

    assert_frame_equal(before.drop("status"), after.drop("status"))
    assert before["status"].to_list().count("pending") == 2
    assert set(after.filter(pl.col("status") != "void")["status"]) == {"approved"}


def test_a_commission_fully_refunded_before_payable_on_is_void_and_in_no_statement_total(
    base_site: Any,
) -> None:
    conversion = f"cv_{base_site.ids['ebook_feb']}"
    lines = base_site.lines(f"conversion_id = '{conversion}'")

    assert lines.select("kind", "amount_minor", "status").rows() == [
        ("commission", 500, "void"),
        ("reversal", -500, "void"),
    ]
    # lena's only lines of February: her row is there (the export sums the void lines beside it), all 0
    lena = base_site.statements("period = '2026-02' and affiliate_id = 'lena'")
    assert lena.select(
        "gross_minor", "reversals_minor", "net_minor", "payable_minor", "line_count"
    ).rows() == [(0, 0, 0, 0, 0)]


# closing refused ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "problem"),
    [
        pytest.param("2026-03", "2026-03 is not over yet (today is 2026-03-20)", id="current-month"),
        pytest.param("2026-04", "is not over yet", id="future-month"),
        pytest.param("2027-01", "is not over yet", id="next-year"),
        pytest.param("2026-13", "period must be YYYY-MM", id="month-13"),
        pytest.param("26-10", "period must be YYYY-MM", id="two-digit-year"),
        pytest.param("2026-1", "period must be YYYY-MM", id="one-digit-month"),
        pytest.param("2026-00", "period must be YYYY-MM", id="month-0"),
        pytest.param("", "period must be YYYY-MM", id="empty"),
        pytest.param("２０２６-01", "period must be YYYY-MM", id="full-width-digits"),  # was "not over yet"
        pytest.param("2026-02", "2026-02 has 1 pending line(s) (payable on 2026-03-27", id="pending-lines"),
    ],
)
def test_closing_is_refused_and_nothing_changes_on_disk(
    base_site: Any, copy_site: Callable, snapshot_tree: Callable, now1: datetime, period: str, problem: str
) -> None:
    site = copy_site(base_site)
    before = snapshot_tree(site.settings.data_dir)

    with pytest.raises(PeriodError) as refused:
        close_period(site.settings, period, now=now1)

    assert problem in str(refused.value)
    assert snapshot_tree(site.settings.data_dir) == before


def test_closing_a_month_twice_is_refused(
    closed_jan_site: Any, copy_site: Callable, snapshot_tree: Callable
) -> None:
    site = copy_site(closed_jan_site)
    before = snapshot_tree(site.settings.data_dir)

    with pytest.raises(PeriodError, match=r"2026-01 was already closed at 2026-03-20T12:00:00\+00:00"):
        close_period(site.settings, "2026-01", now=datetime(2026, 6, 1, tzinfo=UTC))

    assert snapshot_tree(site.settings.data_dir) == before


def test_two_closes_of_a_month_at_once_freeze_it_once_and_the_other_is_told_it_is_closed(
    base_site: Any, copy_site: Callable, now1: datetime
) -> None:
    # Audit: the loser of two concurrent closes crashed on the rename (Directory not empty). A
    # leftover temp folder of a close killed mid-write is swept by the next close.
    site = copy_site(base_site)
    leftover = site.settings.state_dir / "closed_periods" / ".2026-01.0badc0de.tmp"
    leftover.mkdir(parents=True)
    (leftover / "lines.parquet").write_bytes(b"half")
    outcomes: list[object] = []

    def close() -> None:
        try:
            outcomes.append(close_period(site.settings, "2026-01", now=now1))
        except PeriodError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=close) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    closed = [o for o in outcomes if isinstance(o, dict)]
    refused = [str(o) for o in outcomes if isinstance(o, PeriodError)]
    assert len(closed) == 1 and closed[0]["period"] == "2026-01"
    assert refused == [f"2026-01 was already closed at {closed[0]['closed_at']}"]
    assert not leftover.exists()
    assert sorted(p.name for p in (site.settings.state_dir / "closed_periods").iterdir()) == ["2026-01"]


def test_force_closes_a_month_with_pending_lines(base_site: Any, copy_site: Callable, now1: datetime) -> None:
    site = copy_site(base_site)

    meta = close_period(site.settings, "2026-02", force=True, now=now1)

    assert meta == {
        "period": "2026-02",
        "closed_at": "2026-03-20T12:00:00+00:00",
        "forced": True,
        "lines": 4,
        "held": 0,  # frozen held for review: none
    }
    closed = load_closed(site.settings)
    assert closed.periods == {"2026-02"}
    assert closed.lines.filter(pl.col("status") == "pending")["amount_minor"].to_list() == [300]


def test_a_month_closed_with_force_carries_its_debt_whole_beside_its_pending_sales(
    base_site: Any, copy_site: Callable, now1: datetime
) -> None:
    # Audit: omar's January sale refunded in February (-400, approved) was set against February's
    # pending sale (+300): -100 carried, and the 300 paid apart once approved: 300 of the 400 lost.
    site = copy_site(base_site)
    site.land(site.sim.refund(site.flows["omar_usd"], utc("2026-02-23")))  # after its payable_on
    site.run(now1)

    close_period(site.settings, "2026-02", force=True, now=now1)

    frozen = load_closed(site.settings).statements.filter(
        (pl.col("affiliate_id") == "omar") & (pl.col("currency") == "usd")
    )
    assert frozen.select(
        "approved_minor", "pending_minor", "payable_minor", "carried_forward_minor"
    ).rows() == [(-400, 300, 0, -400)]


def test_a_balance_a_month_closed_out_of_order_held_back_is_paid_in_a_statement_of_its_own(
    base_site: Any, copy_site: Callable, tmp_path: Any
) -> None:
    # Omar's February owes 100 (a refund of January's sale, a sale of February); March is closed
    # first, paying 400 of its 500. A late February sale then covers the debt: the 100 March held
    # back is owed in April, where omar sold nothing: a statement of its own, exported and payable.
    site = copy_site(base_site)
    may = datetime(2026, 5, 1, tzinfo=UTC)
    site.land(site.sim.refund(site.flows["omar_usd"], utc("2026-02-23")))
    site.land(
        site.sim.one_time_checkout(
            utc("2026-03-05"), 5000, click_id=site.land_click("omar-all", utc("2026-03-04"))
        )
    )
    site.run(may)
    close_period(site.settings, "2026-03", force=True, now=may)
    late = site.land_click("omar-all", utc("2026-02-25"))
    site.land(site.sim.one_time_checkout(utc("2026-02-26"), 2000, click_id=late))
    site.run(may)

    rows = site.query(
        "select period, opening_balance_minor, net_minor, payable_minor from marts.affiliate_statements"
        " where affiliate_id = 'omar' and currency = 'usd' and period >= '2026-02' order by period"
    )
    export_commissions(site.settings, "2026-04", "csv", tmp_path, now=may)
    _header, statement, lines = read_csv_export(tmp_path / "commissions-2026-04.csv")

    assert rows == [("2026-02", 0, 100, 100), ("2026-03", -100, 500, 400), ("2026-04", 100, 0, 100)]
    assert [(r["affiliate_id"], r["currency"], r["payable_minor"]) for r in statement] == [
        ("omar", "usd", "100")
    ]
    assert lines == []


# after closing -----------------------------------------------------------------------------


def test_closing_keeps_lines_and_statements_under_state_outside_the_warehouse(closed_jan_site: Any) -> None:
    folder = closed_jan_site.settings.data_dir / "state" / "closed_periods" / "2026-01"

    assert sorted(p.name for p in folder.iterdir()) == [
        "affiliates.parquet",
        "closed.json",
        "lines.parquet",
        "statements.parquet",
    ]
    meta = json.loads((folder / "closed.json").read_text())
    assert meta == {
        "period": "2026-01",
        "closed_at": "2026-03-20T12:00:00+00:00",
        "forced": False,
        "lines": 5,
    }
    assert pl.read_parquet(folder / "lines.parquet")["amount_minor"].sum() == 1980 + 500 + 500 + 1235 + 400


def test_closing_freezes_who_the_months_affiliates_were(closed_jan_site: Any) -> None:
    affiliates = frozen_affiliates(closed_jan_site.settings, "2026-01")

    assert affiliates is not None
    assert affiliates.rows() == [
        ("jane", "Jane Doe", "jane@example.com"),
        ("lena", "Lena Fischer", "lena@example.com"),
        ("omar", "Omar Haddad", "omar@example.com"),
    ]


def test_an_affiliate_gone_from_the_program_file_is_frozen_without_a_name(
    base_site: Any, copy_site: Callable, now1: datetime
) -> None:
    site = copy_site(base_site)
    program = site.root / "program.toml"
    blocks = program.read_text().split("\n\n")
    program.write_text("\n\n".join(b for b in blocks if '"lena' not in b))  # her entry and her link

    close_period(site.settings, "2026-01", now=now1)

    affiliates = frozen_affiliates(site.settings, "2026-01")
    assert affiliates is not None
    assert affiliates.filter(pl.col("affiliate_id") == "lena").rows() == [("lena", None, None)]


def test_a_month_closed_before_names_were_frozen_has_no_directory(
    closed_jan_site: Any, copy_site: Callable
) -> None:
    site = copy_site(closed_jan_site)
    (site.settings.state_dir / "closed_periods" / "2026-01" / "affiliates.parquet").unlink()

    assert frozen_affiliates(site.settings, "2026-01") is None
    assert load_closed(site.settings).periods == {"2026-01"}


def test_a_closed_months_lines_and_statements_never_change(after_close: AfterClose) -> None:
    site = after_close.site
    state = site.settings.state_dir / "closed_periods"

    assert_frame_equal(site.lines("period = '2026-01'"), after_close.jan_lines_at_close)
    assert_frame_equal(site.statements("period = '2026-01'"), after_close.jan_statements_at_close)
    now_state = {str(p.relative_to(state)): p.read_bytes() for p in sorted(state.rglob("*")) if p.is_file()}
    assert now_state == after_close.state_at_close


def test_a_later_refund_of_a_closed_months_payment_lands_in_an_open_month(after_close: AfterClose) -> None:
    site = after_close.site
    sub_line = f"cv_{site.ids['sub_first_invoice']}"
    omar_line = f"cv_{site.ids['omar_usd']}"

    new = site.lines(f"kind = 'reversal' and conversion_id in ('{sub_line}', '{omar_line}')")

    assert new.select("conversion_id", "period", "amount_minor", "carried_from_period").sort(
        "period"
    ).rows() == [
        (omar_line, "2026-02", -100, "2026-01"),  # dated in closed January: the first open month after it
        (sub_line, "2026-03", -660, None),  # refunded in March: March is open
    ]


def test_frozen_lines_plus_new_lines_equal_a_full_recomputation(
    after_close: AfterClose, landing_only: Callable
) -> None:
    site = after_close.site
    fresh = landing_only(site)

    fresh.run(NOW2)

    with_closed, recomputed = site.lines(), fresh.lines()
    assert with_closed["amount_minor"].sum() == recomputed["amount_minor"].sum()
    assert _sums(with_closed) == _sums(recomputed)
    assert recomputed.filter(pl.col("line_id").str.contains(site.ids["omar_usd"]))["period"].to_list() == [
        "2026-01",
        "2026-01",
    ]

    def totals(statements: pl.DataFrame) -> list[tuple]:
        return (
            statements.group_by("affiliate_id", "currency")
            .agg(pl.col("net_minor").sum())
            .sort(pl.all())
            .rows()
        )

    assert totals(site.statements()) == totals(fresh.statements())


def test_closed_periods_survive_deleting_the_build_and_the_warehouse(
    after_close: AfterClose, copy_site: Callable
) -> None:
    site = copy_site(after_close.site)
    shutil.rmtree(site.settings.build_dir)
    site.settings.warehouse_path.unlink()

    site.run(NOW2)

    assert_frame_equal(site.lines(), after_close.site.lines())
    assert_frame_equal(site.statements(), after_close.site.statements())


def test_a_corrected_program_file_lands_as_a_correction_line_in_the_first_open_month(
    after_close: AfterClose, copy_site: Callable
) -> None:
    site = copy_site(after_close.site)
    program = site.root / "program.toml"
    text = program.read_text()
    program.write_text(text.replace("percent = 20\n", "percent = 25\n", 1))
    # a correction for all of history, not an edit for new sales: the offer's recorded terms removed
    record = site.settings.state_dir / "offer_terms.jsonl"
    record.write_text("".join(line for line in record.read_text().splitlines(True) if '"pro-20"' not in line))

    site.run(NOW2)

    first = f"cv_{site.ids['sub_first_invoice']}:commission"
    assert_frame_equal(site.lines("period = '2026-01'"), after_close.jan_lines_at_close)
    correction = site.lines(f"line_id = '{first}:correction:2026-02'")
    assert correction.select("kind", "amount_minor", "period", "carried_from_period").rows() == [
        ("commission", 2475 - 1980, "2026-02", "2026-01")
    ]
    # and why, in the rule's own words (upgrade audit: only the line id and two amounts)
    assert "frozen 1980, now 2475 usd): now 25% of 9900 usd" in correction["rule"][0]
