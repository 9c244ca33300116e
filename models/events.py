"""Read Stripe events: decode the JSON payload per object type into payment observations.

Both payload generations are read: before API 2025-03-31 (`invoice.subscription`, `invoice.charge`,
`invoice.payment_intent`, `charge.invoice`, `subscription_details`) and from it
(`invoice.parent.subscription_details`, the `invoice_payment` object).
"""

from __future__ import annotations

import polars as pl

from core.contracts import PAYMENT_EVENTS, PAYMENT_OBSERVATION, REJECTED_EVENT, conform, empty

_META = pl.Struct({"rd_click_id": pl.String})
_SUB_DETAILS = pl.Struct({"metadata": _META, "subscription": pl.String})
# refunds and disputes carry the same fields the models read
_MONEY_BACK = pl.Struct(
    {
        "id": pl.String,
        "amount": pl.Int64,
        "currency": pl.String,
        "charge": pl.String,
        "payment_intent": pl.String,
        "status": pl.String,
        "created": pl.Int64,
    }
)

# Only the fields the models read; everything else in the payload is ignored (and kept in raw).
OBJECT_SCHEMAS: dict[str, pl.Struct] = {
    "checkout.session": pl.Struct(
        {
            "id": pl.String,
            "mode": pl.String,
            "payment_status": pl.String,
            "payment_intent": pl.String,
            "invoice": pl.String,
            "subscription": pl.String,
            "customer": pl.String,
            "customer_email": pl.String,
            "customer_details": pl.Struct({"email": pl.String}),
            "amount_total": pl.Int64,
            "currency": pl.String,
            "total_details": pl.Struct({"amount_tax": pl.Int64}),
            "metadata": _META,
            "client_reference_id": pl.String,
        }
    ),
    "invoice": pl.Struct(
        {
            "id": pl.String,
            "amount_paid": pl.Int64,
            "currency": pl.String,
            "customer": pl.String,
            "customer_email": pl.String,
            "billing_reason": pl.String,
            "subscription": pl.String,
            "charge": pl.String,
            "payment_intent": pl.String,
            "tax": pl.Int64,
            "total_taxes": pl.List(pl.Struct({"amount": pl.Int64})),
            "total_tax_amounts": pl.List(pl.Struct({"amount": pl.Int64})),
            "metadata": _META,
            "subscription_details": _SUB_DETAILS,
            "parent": pl.Struct({"subscription_details": _SUB_DETAILS}),
            "lines": pl.Struct({"data": pl.List(pl.Struct({"metadata": _META}))}),
            "status_transitions": pl.Struct({"paid_at": pl.Int64}),
        }
    ),
    "invoice_payment": pl.Struct(
        {
            "id": pl.String,
            "invoice": pl.String,
            "amount_paid": pl.Int64,
            "currency": pl.String,
            "status": pl.String,
            "payment": pl.Struct({"payment_intent": pl.String, "charge": pl.String}),
            "status_transitions": pl.Struct({"paid_at": pl.Int64}),
        }
    ),
    "charge": pl.Struct(
        {
            "id": pl.String,
            "amount": pl.Int64,
            "currency": pl.String,
            "customer": pl.String,
            "payment_intent": pl.String,
            "invoice": pl.String,
            "status": pl.String,
            "receipt_email": pl.String,
            "billing_details": pl.Struct({"email": pl.String}),
            "metadata": _META,
            "created": pl.Int64,
            "amount_refunded": pl.Int64,
        }
    ),
    "refund": _MONEY_BACK,
    "dispute": _MONEY_BACK,
    "payment_intent": pl.Struct(
        {
            "id": pl.String,
            "amount_received": pl.Int64,
            "currency": pl.String,
            "customer": pl.String,
            "invoice": pl.String,
            "receipt_email": pl.String,
            "metadata": _META,
        }
    ),
}

# Lower rank = more authoritative source for a payment's attributes.
SOURCE_RANK = {
    "invoice": 0,
    "checkout.session": 1,
    "invoice_payment": 2,
    "payment_intent": 3,
    "charge": 4,
}


def _obj() -> pl.Expr:
    return pl.col("obj")


def _f(*path: str) -> pl.Expr:
    expr = _obj()
    for name in path:
        expr = expr.struct.field(name)
    return expr


def _ts(expr: pl.Expr) -> pl.Expr:
    return pl.from_epoch(expr, time_unit="s").dt.replace_time_zone("UTC").cast(PAYMENT_OBSERVATION["paid_at"])


def _clean_id(expr: pl.Expr) -> pl.Expr:
    stripped = expr.str.strip_chars()
    return pl.when(stripped.str.len_chars() > 0).then(stripped)


def _session(events: pl.DataFrame) -> pl.DataFrame:
    paid = (_f("payment_status") == "paid") & (_f("amount_total") > 0)
    return events.select(
        confirms_payment=paid,
        paid_at=pl.col("created_at"),
        session_id=_f("id"),
        invoice_id=_f("invoice"),
        payment_intent_id=_f("payment_intent"),
        subscription_id=_f("subscription"),
        checkout_mode=_f("mode"),
        customer_id=_f("customer"),
        customer_email=pl.coalesce(_f("customer_details", "email"), _f("customer_email")),
        amount_minor=_f("amount_total"),
        tax_minor=_f("total_details", "amount_tax"),
        currency=_f("currency"),
        metadata_click_id=_f("metadata", "rd_click_id"),
        client_reference_id=_f("client_reference_id"),
    )


def _invoice(events: pl.DataFrame) -> pl.DataFrame:
    lines_click = (
        _f("lines", "data")
        .list.eval(pl.element().struct.field("metadata").struct.field("rd_click_id"))
        .list.drop_nulls()
        .list.first()
    )
    taxes = pl.coalesce(
        _f("tax"),
        _f("total_taxes").list.eval(pl.element().struct.field("amount")).list.sum(),
        _f("total_tax_amounts").list.eval(pl.element().struct.field("amount")).list.sum(),
    )
    return events.select(
        confirms_payment=_f("amount_paid") > 0,
        paid_at=pl.coalesce(_ts(_f("status_transitions", "paid_at")), pl.col("created_at")),
        invoice_id=_f("id"),
        payment_intent_id=_f("payment_intent"),
        charge_id=_f("charge"),
        subscription_id=pl.coalesce(_f("parent", "subscription_details", "subscription"), _f("subscription")),
        billing_reason=_f("billing_reason"),
        customer_id=_f("customer"),
        customer_email=_f("customer_email"),
        amount_minor=_f("amount_paid"),
        tax_minor=taxes,
        currency=_f("currency"),
        metadata_click_id=_f("metadata", "rd_click_id"),
        subscription_metadata_click_id=pl.coalesce(
            _f("parent", "subscription_details", "metadata", "rd_click_id"),
            _f("subscription_details", "metadata", "rd_click_id"),
            lines_click,
        ),
    )


def _invoice_payment(events: pl.DataFrame) -> pl.DataFrame:
    return events.select(
        confirms_payment=(_f("status") == "paid") & (_f("amount_paid") > 0),
        paid_at=pl.coalesce(_ts(_f("status_transitions", "paid_at")), pl.col("created_at")),
        invoice_id=_f("invoice"),
        payment_intent_id=_f("payment", "payment_intent"),
        charge_id=_f("payment", "charge"),
        amount_minor=_f("amount_paid"),
        currency=_f("currency"),
    )


def _charge(events: pl.DataFrame) -> pl.DataFrame:
    return events.select(
        confirms_payment=(_f("status") == "succeeded") & (_f("amount") > 0),
        paid_at=pl.coalesce(_ts(_f("created")), pl.col("created_at")),
        charge_id=_f("id"),
        payment_intent_id=_f("payment_intent"),
        invoice_id=_f("invoice"),
        customer_id=_f("customer"),
        customer_email=pl.coalesce(_f("billing_details", "email"), _f("receipt_email")),
        amount_minor=_f("amount"),
        currency=_f("currency"),
        metadata_click_id=_f("metadata", "rd_click_id"),
    )


def _payment_intent(events: pl.DataFrame) -> pl.DataFrame:
    return events.select(
        confirms_payment=_f("amount_received") > 0,
        paid_at=pl.col("created_at"),
        payment_intent_id=_f("id"),
        invoice_id=_f("invoice"),
        customer_id=_f("customer"),
        customer_email=_f("receipt_email"),
        amount_minor=_f("amount_received"),
        currency=_f("currency"),
        metadata_click_id=_f("metadata", "rd_click_id"),
    )


_EXTRACTORS = {
    "checkout.session": _session,
    "invoice": _invoice,
    "invoice_payment": _invoice_payment,
    "charge": _charge,
    "payment_intent": _payment_intent,
}
_REQUIRED = {
    "refund": ("id", "currency", "amount", "status"),
    "dispute": ("id", "currency", "amount", "status", "charge"),
    "checkout.session": ("id", "currency", "payment_status"),
    "invoice": ("id", "currency", "amount_paid"),
    "invoice_payment": ("invoice", "currency", "amount_paid"),
    "charge": ("id", "currency", "amount"),
    "payment_intent": ("id", "currency", "amount_received"),
}


def _decode(events: pl.DataFrame, kind: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Decode `data.object` with the kind's schema; rows that do not fit are returned as rejects."""
    dtype = pl.Struct({"data": pl.Struct({"object": OBJECT_SCHEMAS[kind]})})
    decode = pl.col("payload").str.json_decode(dtype).struct.field("data").struct.field("object")
    try:
        decoded = events.with_columns(obj=decode)
        rejects = pl.DataFrame(schema=REJECTED_EVENT)
    except pl.exceptions.PolarsError:
        # Some payload does not fit (a hand-edited or future shape): find it row by row.
        good, bad = [], []
        for row in events.iter_rows(named=True):
            frame = pl.DataFrame([row], schema=events.schema)
            try:
                good.append(frame.with_columns(obj=decode))
            except pl.exceptions.PolarsError as exc:
                reason = f"{kind} payload does not fit the expected shape: {str(exc).splitlines()[0]}"
                bad.append({"event_id": row["event_id"], "event_type": row["event_type"], "reason": reason})
        decoded = (
            pl.concat(good)
            if good
            else events.head(0).with_columns(obj=pl.lit(None, dtype=OBJECT_SCHEMAS[kind]))
        )
        rejects = pl.DataFrame(bad, schema=REJECTED_EVENT)
    missing = pl.any_horizontal([_f(field).is_null() for field in _REQUIRED[kind]]) | _obj().is_null()
    rejects = pl.concat(
        [
            rejects,
            decoded.filter(missing).select(
                "event_id",
                "event_type",
                reason=pl.lit(f"{kind} object lacks one of: {', '.join(_REQUIRED[kind])}"),
            ),
        ]
    )
    return decoded.filter(~missing), rejects


def decode_objects(events: pl.DataFrame, kind: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Events' `data.object` decoded with the kind's schema, one column per field (`id` → `obj_id`,
    `created` → `created_obj`), beside event_id, event_type, created_at and livemode; plus rejects."""
    if events.is_empty():
        decoded = events.with_columns(obj=pl.lit(None, dtype=OBJECT_SCHEMAS[kind]))
        rejects = pl.DataFrame(schema=REJECTED_EVENT)
    else:
        decoded, rejects = _decode(events, kind)
    fields = decoded.select("event_id", "event_type", "created_at", "livemode", "obj").unnest("obj")
    renames = {"id": "obj_id", "created": "created_obj"}
    return fields.rename({k: v for k, v in renames.items() if k in fields.columns}), rejects


def payment_observations(raw_events: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per event that reports or links a payment, in a common shape; plus rejected events.

    Events of other types are ignored here (they stay in raw.stripe_events).
    """
    frames = [empty(PAYMENT_OBSERVATION)]
    rejected = [pl.DataFrame(schema=REJECTED_EVENT)]
    kinds = pl.DataFrame(
        {
            "event_type": list(PAYMENT_EVENTS),
            "object_kind": list(PAYMENT_EVENTS.values()),
        }
    )
    events = raw_events.join(kinds, on="event_type", how="inner")
    for kind, extract in _EXTRACTORS.items():
        of_kind = events.filter(pl.col("object_kind") == kind)
        if of_kind.is_empty():
            continue
        decoded, rejects = _decode(of_kind, kind)
        rejected.append(rejects)
        fields = extract(decoded)
        base = decoded.select(
            "event_id",
            "event_type",
            "object_kind",
            pl.lit(SOURCE_RANK[kind], dtype=pl.Int8).alias("source_rank"),
            "livemode",
            pl.col("created_at").alias("event_created_at"),
        )
        frame = pl.concat([base, fields], how="horizontal")
        frames.append(conform(frame, PAYMENT_OBSERVATION))
    observations = pl.concat(frames).with_columns(
        pl.col("currency").str.to_lowercase(),
        *(
            _clean_id(pl.col(c)).alias(c)
            for c in ("metadata_click_id", "client_reference_id", "subscription_metadata_click_id")
        ),
    )
    return observations, pl.concat(rejected)
