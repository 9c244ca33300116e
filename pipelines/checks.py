"""Dagster asset checks: the invariants a run must not publish without."""

from __future__ import annotations

import contextlib

import dagster as dg
import duckdb

from pipelines.lib.warehouse import Build, connect
from pipelines.resources import AttroResource


def _duplicates(attro: AttroResource, table: str, column: str) -> int:
    """Values of `column` held by more than one row of `table`: in the warehouse this run is building
    (before it is published: a failing check stops the publish), else in the published one (the
    checks run on their own)."""
    settings = attro.settings
    if Build(settings).owner(attro.runs) is not None:
        opened = connect(settings, read_only=True)
    elif settings.warehouse_path.exists():
        opened = contextlib.closing(duckdb.connect(str(settings.warehouse_path), read_only=True))
    else:
        raise RuntimeError(f"no warehouse to check: none published at {settings.warehouse_path} yet")
    with opened as con:
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
