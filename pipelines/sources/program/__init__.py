"""dlt source for the program file: affiliates, links, offers and offer tiers → schema `program`."""

from __future__ import annotations

from collections.abc import Iterator

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from core.contracts import PROGRAM_TABLES, arrow_schema
from core.program import Program

PROGRAM_SCHEMAS = {name: arrow_schema(fields) for name, fields in PROGRAM_TABLES.items()}


def program_tables(program: Program) -> dict[str, pa.Table]:
    """The program file as Arrow tables, one per program.* table."""
    rows = {
        "affiliates": [
            {
                "affiliate_id": a.id,
                "name": a.name,
                "email": a.email,
                "status": a.status,
                "banned_from": a.banned_at,
            }
            for a in program.affiliates
        ],
        "links": [
            {
                "link_code": link.code,
                "affiliate_id": link.affiliate,
                "offer_id": link.offer,
                "destination": link.destination,
            }
            for link in program.links
        ],
        "codes": [
            {
                "code": c.code,
                "promotion_code_id": c.promotion_code,
                "affiliate_id": c.affiliate,
                "offer_id": c.offer,
                "valid_from": c.from_at,
                "valid_until": c.until_at,
            }
            for c in program.codes
        ],
        "offers": [
            {
                "offer_id": o.id,
                "version": v.version,
                "effective_from": v.effective_at,
                "name": o.name,
                "type": v.terms.type,
                "percent": v.terms.percent,
                "amount_minor": v.terms.amount_minor,
                "currency": v.terms.currency,
                "recurring": v.terms.recurring,
                "recurring_months": v.terms.recurring_months,
                "attribution_window_days": o.attribution_window_days,
                "holding_days": v.terms.holding_days,
                "max_commission_minor": v.terms.max_commission_minor,
                "max_customer_commission_minor": v.terms.max_customer_commission_minor,
            }
            for o in program.offers
            for v in o.resolved_versions()
        ],
        "offer_tiers": [
            {
                "offer_id": o.id,
                "version": v.version,
                "name": t.name,
                "min_conversions": t.min_conversions,
                "percent": t.percent,
            }
            for o in program.offers
            for v in o.resolved_versions()
            for t in v.terms.tiers
        ],
    }
    return {name: pa.Table.from_pylist(rows[name], schema=PROGRAM_SCHEMAS[name]) for name in PROGRAM_SCHEMAS}


@dlt.source(name="program", max_table_nesting=0)
def program_source(tables: dict[str, pa.Table]) -> list[DltResource]:
    """Each program table (`program_tables`) replaced whole on every load (the file is the truth)."""

    def make(name: str) -> DltResource:
        @dlt.resource(name=name, write_disposition="replace")
        def table() -> Iterator[pa.Table]:
            yield tables[name]

        return table

    return [make(name) for name in tables]
