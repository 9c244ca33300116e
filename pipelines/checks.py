"""Dagster asset checks: the invariants a run must not publish without."""

from __future__ import annotations

import dagster as dg

from pipelines.lib.warehouse import connect
from pipelines.resources import AttroResource


def _duplicates(attro: AttroResource, table: str, column: str) -> int:
    """Values of `column` held by more than one row of the next warehouse's `table`."""
    with connect(attro.settings, read_only=True) as con:
        rows = con.execute(
            f"select count(*) from (select {column} from {table} group by {column} having count(*) > 1)"
        ).fetchall()
    return int(rows[0][0])


@dg.asset_check(asset=dg.AssetKey(["marts", "payments"]), blocking=True)
def payment_ids_unique(attro: AttroResource) -> dg.AssetCheckResult:
    """No payment is counted twice."""
    duplicates = _duplicates(attro, "marts.payments", "payment_id")
    return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicate_payment_ids": duplicates})


@dg.asset_check(asset=dg.AssetKey(["marts", "conversions"]), blocking=True)
def conversion_ids_unique(attro: AttroResource) -> dg.AssetCheckResult:
    """No conversion is counted twice."""
    duplicates = _duplicates(attro, "marts.conversions", "conversion_id")
    return dg.AssetCheckResult(passed=duplicates == 0, metadata={"duplicate_conversion_ids": duplicates})


CHECKS = [payment_ids_unique, conversion_ids_unique]
