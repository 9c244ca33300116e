"""dlt source for the program file: affiliates, links, offers and offer tiers → schema `program`."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import dlt
import pyarrow as pa
from dlt.sources import DltResource

from attro.program import Program

PROGRAM_SCHEMAS = {
    "affiliates": pa.schema([("affiliate_id", pa.string()), ("name", pa.string()), ("email", pa.string())]),
    "links": pa.schema(
        [
            ("link_code", pa.string()),
            ("affiliate_id", pa.string()),
            ("offer_id", pa.string()),
            ("destination", pa.string()),
        ]
    ),
    "offers": pa.schema(
        [
            ("offer_id", pa.string()),
            ("name", pa.string()),
            ("type", pa.string()),
            ("percent", pa.decimal128(9, 4)),
            ("amount_minor", pa.int64()),
            ("currency", pa.string()),
            ("recurring", pa.string()),
            ("recurring_months", pa.int64()),
            ("attribution_window_days", pa.int64()),
            ("holding_days", pa.int64()),
        ]
    ),
    "offer_tiers": pa.schema(
        [
            ("offer_id", pa.string()),
            ("name", pa.string()),
            ("min_conversions", pa.int64()),
            ("percent", pa.decimal128(9, 4)),
        ]
    ),
}


def program_tables(program: Program) -> dict[str, pa.Table]:
    """The program file as Arrow tables, one per program.* table."""
    rows = {
        "affiliates": [{"affiliate_id": a.id, "name": a.name, "email": a.email} for a in program.affiliates],
        "links": [
            {
                "link_code": link.code,
                "affiliate_id": link.affiliate,
                "offer_id": link.offer,
                "destination": link.destination,
            }
            for link in program.links
        ],
        "offers": [
            {
                "offer_id": o.id,
                "name": o.name,
                "type": o.type,
                "percent": Decimal(o.percent) if o.percent is not None else None,
                "amount_minor": o.amount_minor,
                "currency": o.currency,
                "recurring": o.recurring,
                "recurring_months": o.recurring_months,
                "attribution_window_days": o.attribution_window_days,
                "holding_days": o.holding_days,
            }
            for o in program.offers
        ],
        "offer_tiers": [
            {"offer_id": o.id, "name": t.name, "min_conversions": t.min_conversions, "percent": t.percent}
            for o in program.offers
            for t in o.tiers
        ],
    }
    return {name: pa.Table.from_pylist(rows[name], schema=PROGRAM_SCHEMAS[name]) for name in PROGRAM_SCHEMAS}


@dlt.source(name="program", max_table_nesting=0)
def program_source(program: Program) -> list[DltResource]:
    """Each program table replaced whole on every load (the file is the truth)."""
    tables = program_tables(program)

    def make(name: str) -> DltResource:
        @dlt.resource(name=name, write_disposition="replace")
        def table() -> Iterator[pa.Table]:
            yield tables[name]

        return table

    return [make(name) for name in tables]
