"""dlt source for Stripe's API: the objects the rules need (Checkout Sessions, invoices, invoice payments,
charges, PaymentIntents, refunds, disputes, subscriptions, promotion codes, customers), a resource per
list, for `attro stripe backfill`; the events API for `attro stripe sync` (pipelines/stripe_sync.py)
goes through helpers.py.

Each resource lists its objects with the stripe library's auto-pagination from its incremental cursor
(`created`, kept by dlt in the pipeline's state) up to the window's end, and yields each page as one
Arrow table (object id, created, the object's JSON as the API returned it): nothing is flattened.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from itertools import islice

import dlt
import orjson
import pyarrow as pa
from dlt.sources import DltResource

from pipelines.sources.stripe_api.helpers import StripeApi, StripeObject, list_objects
from pipelines.sources.stripe_api.settings import OBJECT_KINDS, PAGE_SIZE, ObjectKind

OBJECT_TABLE = pa.schema([("id", pa.string()), ("created", pa.int64()), ("object", pa.string())])


def object_table(objects: list[StripeObject]) -> pa.Table:
    """One page of objects as rows of (id, created, the object's JSON)."""
    return pa.Table.from_pydict(
        {
            "id": [obj["id"] for obj in objects],
            "created": [obj.get("created") for obj in objects],
            "object": [orjson.dumps(obj).decode() for obj in objects],
        },
        schema=OBJECT_TABLE,
    )


def object_resource(
    api: StripeApi, kind: ObjectKind, since: int, until: int, sleep: Callable[[float], None]
) -> DltResource:
    """The objects of one Stripe list created from the cursor (at first `since`) to before `until`."""

    @dlt.resource(name=kind.table, primary_key="id", write_disposition="append")
    def objects(
        created: dlt.sources.incremental[int] = dlt.sources.incremental("created", initial_value=since),
    ) -> Iterator[pa.Table]:
        params = {**kind.params, "created": {"gte": created.last_value, "lt": until}}
        with api.errors(kind.table.replace("_", " ")):
            listed = list_objects(api.list_call(kind.service), params, sleep=sleep)
            while page := list(islice(listed, PAGE_SIZE)):
                yield object_table(page)

    return objects


@dlt.source(name="stripe", max_table_nesting=0)
def stripe_objects(
    api: StripeApi,
    since: int,
    until: int,
    kinds: tuple[ObjectKind, ...] = OBJECT_KINDS,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DltResource]:
    """Every kind of object the rules read, created from `since` (Unix time) to before `until`."""
    return [object_resource(api, kind, since, until, sleep) for kind in kinds]
