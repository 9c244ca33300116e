"""Decoding Stripe events once, in DuckDB: raw payload JSON → typed `staging.stripe_objects` rows.

No payload, whatever it holds, can stop a run: each payload is parsed once (`json_transform`, every
field as text, under TRY so a payload that is not JSON quarantines its event), and an integer is
taken only when its JSON text is an integer in range; anything else quarantines the event with a
reason naming the field and the value. A container of the wrong JSON type (metadata as a list, say)
reads as absent: the receiver refuses such an event at the door, so only other writers' lines get
here. Should DuckDB still fail on some row, the batch is split in halves
until the row that fails is found and quarantined with DuckDB's own message.
"""

from __future__ import annotations

import json

import duckdb

from core.contracts import (
    CONSUMED_EVENTS,
    FIRST,
    INT,
    RAW_FIRST,
    REQUIRED_OBJECT_FIELDS,
    STRIPE_OBJECT,
    STRIPE_OBJECT_FIELDS,
    SUM,
    TEXT,
    TIME,
)
from core.stripe_fields import MAX_AMOUNT_DIGITS

# Integers the rules read are amounts in minor units and Unix times: anything outside these bounds is
# no Stripe value (core/stripe_fields.py MAX_AMOUNT_DIGITS; times are between 2000 and 2100).
EARLIEST_TIME, LATEST_TIME = 946_684_800, 4_102_444_800  # 2000-01-01, 2100-01-01 (UTC)
_SHOWN = 40  # characters of an offending value quoted in a reason
# A landing line whose payload is not the event it names (corrupt, or written by something else than
# the receiver): quarantined, and a later copy that is the event is loaded (pipelines/lib/loading.py).
NOT_JSON = "payload is not valid JSON (malformed, or a lone surrogate escape)"
NOT_THE_EVENT = "payload is not the event its landing line names"
UNFIT = (NOT_JSON, NOT_THE_EVENT)


def _json_structure() -> str:
    """The `json_transform` structure: every field as text (integers as their JSON text)."""
    tree: dict = {}
    for path, kind in STRIPE_OBJECT_FIELDS.values():
        leaf = "VARCHAR" if kind in (TEXT, FIRST) else "JSON"
        node = tree
        parts = path.split(".")
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            if part.endswith("[*]"):
                name = part[:-3]
                rest = ".".join(parts[index + 1 :])
                element: dict | str = leaf
                for key in reversed(rest.split(".")) if rest else []:
                    element = {key: element}
                node[name] = [element]
                break
            if last:
                node[part] = leaf
            else:
                node = node.setdefault(part, {})
    return json.dumps({"id": "VARCHAR", "data": {"object": tree}})


def _accessor(path: str) -> str:
    """SQL reaching a field's text in the transformed object `o`; a `[*]` path gives a list."""
    if "[*]" in path:
        head, _, rest = path.partition("[*]")
        items = "o." + ".".join(f'"{p}"' for p in head.split("."))
        element = "x" + "".join(f'."{p}"' for p in rest.strip(".").split(".")) if rest.strip(".") else "x"
        return f"list_transform({items}, lambda x: {element})"
    return "o." + ".".join(f'"{p}"' for p in path.split("."))


def _is_int(text: str, digits: int = MAX_AMOUNT_DIGITS) -> str:
    return f"regexp_full_match({text}, '-?[0-9]{{1,{digits}}}')"


def _present(text: str) -> str:
    return f"({text} is not null and {text} <> 'null')"


def _field_sql(column: str, path: str, kind: str) -> tuple[str, str | None]:
    """(typed value, problem or null) SQL of one field."""
    value = _accessor(path)
    where = f"data.object.{path}"
    if kind == TEXT:
        return value, None
    if kind == FIRST:
        return f"list_filter({value}, lambda x: x is not null)[1]", None
    if kind == RAW_FIRST:
        return f"list_filter({value}, lambda x: {_present('x')})[1]", None
    if kind == INT:
        problem = (
            f"case when {_present(value)} and not {_is_int(value)} then "
            f"'{where} is ' || left({value}, {_SHOWN}) || ', not an integer of at most "
            f"{MAX_AMOUNT_DIGITS} digits' end"
        )
        return f"case when {_present(value)} and {_is_int(value)} then cast({value} as bigint) end", problem
    if kind == TIME:
        ok = f"{_is_int(value, 11)} and cast({value} as bigint) between {EARLIEST_TIME} and {LATEST_TIME}"
        problem = (
            f"case when {_present(value)} and not ({ok}) then "
            f"'{where} is ' || left({value}, {_SHOWN}) || ', not a Unix time between 2000 and 2100' end"
        )
        return f"case when {_present(value)} and {ok} then to_timestamp(cast({value} as bigint)) end", problem
    if kind == SUM:
        items = f"list_filter({value}, lambda x: {_present('x')})"
        bad = f"list_filter({items}, lambda x: not {_is_int('x')})"
        shown = f"left({bad}[1], {_SHOWN})"
        problem = f"case when len({bad}) > 0 then '{where} holds ' || {shown} || ', not an integer' end"
        total = f"list_sum(list_transform({items}, lambda x: cast(x as bigint)))"
        return f"case when len({bad}) = 0 and len({items}) > 0 then {total} end", problem
    raise ValueError(f"unknown field kind {kind!r} for {column}")


def _kind_case() -> str:
    whens = " ".join(f"when '{event}' then '{kind}'" for event, kind in CONSUMED_EVENTS.items())
    return f"case event_type {whens} end"


def _required_problem() -> str:
    whens = []
    for kind, fields in REQUIRED_OBJECT_FIELDS.items():
        missing = " or ".join(f"{field} is null" for field in fields)
        names = ", ".join(field.removeprefix("obj_") for field in fields)
        whens.append(
            f"when object_kind = '{kind}' and ({missing}) then '{kind} object lacks one of: {names}'"
        )
    return f"case {' '.join(whens)} end"


_CONSUMED = ", ".join(f"'{event}'" for event in CONSUMED_EVENTS)  # the event types decoded, as SQL


def consumed_count_sql(source: str) -> str:
    """SQL counting the rows `decode_sql(source)` gives: one per consumed event (reads event_type only)."""
    return f"select count(*) from {source} where event_type in ({_CONSUMED})"


def decode_sql(source: str) -> str:
    """SQL over `source` (rows with event_id, event_type, livemode, created_at, received_at, payload)
    giving one row per consumed event: the STRIPE_OBJECT columns plus `problem` (null when the event
    is usable)."""
    structure = _json_structure().replace("'", "''")
    typed, problems = [], []
    for column, (path, kind) in STRIPE_OBJECT_FIELDS.items():
        value, problem = _field_sql(column, path, kind)
        typed.append(f"{value} as {column}")
        if problem:
            problems.append(problem)
    created_ok = f"created_at between to_timestamp({EARLIEST_TIME}) and to_timestamp({LATEST_TIME})"
    return f"""
with events as (
    select event_id, event_type, livemode, created_at, received_at, payload, {_kind_case()} as object_kind
    from {source} where event_type in ({_CONSUMED})
),
documents as (
    -- one parse per payload; TRY: a payload that is not JSON (a lone surrogate escape, say) is null
    select *, try(json_transform(payload, '{structure}')) as document from events
),
objects as (
    select event_id, event_type, object_kind, livemode, created_at, received_at,
        document is not null as valid_json, document.id as payload_id, document.data.object as o
    from documents
),
fields as (
    select event_id, event_type, object_kind, livemode, created_at, received_at, valid_json, payload_id, o,
        {", ".join(typed)},
        list_filter([{", ".join(problems)}], lambda x: x is not null) as field_problems
    from objects
)
select {", ".join(STRIPE_OBJECT)},
    case
        when not valid_json then '{NOT_JSON}'
        when payload_id is distinct from event_id
            then '{NOT_THE_EVENT} (its id is ' || coalesce(left(payload_id, {_SHOWN}), 'missing') || ')'
        when not ({created_ok}) then 'event created is not a Unix time between 2000 and 2100'
        when o is null then 'data.object is missing or not a JSON object'
        when len(field_problems) > 0
            then object_kind || ' payload does not fit the expected shape: '
                || array_to_string(field_problems, '; ')
        else {_required_problem()}
    end as problem
from fields
"""


def decode_into(con: duckdb.DuckDBPyConnection, source: str, count: int, target: str) -> None:
    """Insert the decoded rows of `source` (a relation with a `_row` column numbering its rows
    0..count-1) into `target` (STRIPE_OBJECT columns + problem). A slice DuckDB fails on is split in
    halves until the failing row is alone; it is inserted with DuckDB's message as its problem."""
    pending = [(0, count)]
    while pending:
        start, end = pending.pop()
        if start >= end:
            continue
        sliced = f"(select * from {source} where _row >= {start} and _row < {end})"
        try:
            con.execute(f"insert into {target} {decode_sql(sliced)}")
        except duckdb.Error as exc:
            if end - start > 1:
                middle = (start + end) // 2
                pending += [(middle, end), (start, middle)]
                continue
            message = str(exc).splitlines()[0][:300]
            con.execute(
                f"insert into {target} (event_id, event_type, problem)"
                f" select event_id, event_type, ? from {sliced}",
                [f"cannot be decoded: {message}"],
            )
