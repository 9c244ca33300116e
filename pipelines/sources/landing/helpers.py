"""Reading the landing zone: new complete NDJSON lines since the saved offsets, as Arrow tables."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.json as pa_json

from core.contracts import LANDING_REJECT, arrow_schema
from pipelines.sources.landing.settings import LANDED_FIELDS, LANDED_TIMESTAMPS, PRIMARY_KEYS, REQUIRED_FIELDS

REJECT_SCHEMA = arrow_schema(LANDING_REJECT)


@dataclass
class Batch:
    """New records of one stream: good rows, quarantined lines, and the offsets after reading."""

    records: pa.Table
    rejects: pa.Table
    offsets: dict[str, int] = field(default_factory=dict)
    torn_lines: int = 0  # files ending in a partial line, left for a later run


def landing_files(stream_dir: Path) -> list[Path]:
    """Landing files of a stream, oldest partition first."""
    return sorted(stream_dir.glob("date=*/*.ndjson"))


def _complete_chunk(path: Path, start: int) -> bytes:
    """Bytes from `start` up to the last newline: a torn trailing line waits for the next run."""
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read()
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


def _reject(stream: str, rel: str, line_offset: int, raw: bytes, error: str) -> dict:
    return {
        "stream": stream,
        "landing_file": rel,
        "line_offset": line_offset,
        "error": error[:500],
        "line": raw.decode("utf-8", errors="replace").rstrip("\n")[:10_000],
    }


def _parse_lines(stream: str, rel: str, start: int, chunk: bytes) -> tuple[list[dict], list[dict]]:
    """Slow path for a chunk with a corrupt line: parse line by line, quarantine the bad ones."""
    schema = LANDED_FIELDS[stream]
    parsed: list[tuple[int, bytes, dict]] = []
    bad: list[dict] = []
    offset = start
    for raw in chunk.splitlines(keepends=True):
        line_offset, offset = offset, offset + len(raw)
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
            missing = [f for f in REQUIRED_FIELDS[stream] if record.get(f) in (None, "")]
            if missing:
                raise ValueError(f"missing {', '.join(missing)}")
            pa.Table.from_pylist([record], schema=schema)  # type check
        except (ValueError, TypeError, pa.ArrowException) as exc:
            bad.append(_reject(stream, rel, line_offset, raw, str(exc)))
            continue
        parsed.append((line_offset, raw, {name: record.get(name) for name in schema.names}))
    # Timestamps are judged by the same expression as on the fast path, all lines at once.
    rows = [row for _, _, row in parsed]
    unreadable = _unreadable_timestamps(stream, pa.Table.from_pylist(rows, schema=schema))
    good: list[dict] = []
    for (line_offset, raw, row), problem in zip(parsed, unreadable, strict=True):
        if problem is None:
            good.append(row)
        else:
            bad.append(_reject(stream, rel, line_offset, raw, f"{problem} is not an RFC 3339 timestamp"))
    bad.sort(key=lambda reject: reject["line_offset"])
    return good, bad


# RFC 3339, as the receiver writes it (2026-01-05T10:00:00.000000Z) or with any offset, 'T', 't' or
# ' ', 'Z' or 'z'. An explicit format, not Polars' guess from a column's first value: a line must
# parse the same whichever line comes first in its chunk, on the fast and on the line-by-line path.
_RFC3339 = "%Y-%m-%dT%H:%M:%S%.f%:z"


def _ts(name: str) -> pl.Expr:
    text = pl.col(name).str.replace(r"^(\d{4}-\d{2}-\d{2})[Tt ]", "${1}T").str.replace(r"[Zz]$", "+00:00")
    return text.str.to_datetime(format=_RFC3339, time_zone="UTC", time_unit="us", strict=False)


def _unreadable_timestamps(stream: str, table: pa.Table) -> list[str | None]:
    """Per row: the first timestamp field present but not RFC 3339, else None."""
    frame = pl.from_arrow(table.select(list(LANDED_TIMESTAMPS[stream])))
    assert isinstance(frame, pl.DataFrame)
    checks = [
        pl.when(pl.col(n).is_not_null() & _ts(n).is_null()).then(pl.lit(n)) for n in LANDED_TIMESTAMPS[stream]
    ]
    return frame.select(pl.coalesce(checks).alias("problem"))["problem"].to_list()


def _read_chunk(stream: str, rel: str, start: int, chunk: bytes) -> tuple[pa.Table, list[dict]]:
    schema = LANDED_FIELDS[stream]
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
    try:
        table = pa_json.read_json(io.BytesIO(chunk), parse_options=options)
        required_ok = all(table[name].null_count == 0 for name in REQUIRED_FIELDS[stream])
        if required_ok and not any(_unreadable_timestamps(stream, table)):
            return table.select(schema.names), []
    except pa.ArrowInvalid:
        pass
    good, bad = _parse_lines(stream, rel, start, chunk)
    return pa.Table.from_pylist(good, schema=schema), bad


def _typed(stream: str, table: pa.Table) -> pa.Table:
    """Landed strings to typed columns; duplicates of a primary key keep the first landed."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    utc = pl.Datetime("us", "UTC")

    def ts(name: str) -> pl.Expr:
        return _ts(name).cast(utc)

    if stream == "stripe_events":
        frame = frame.with_columns(
            created_at=pl.from_epoch("created", time_unit="s").dt.replace_time_zone("UTC").cast(utc),
            received_at=ts("received_at"),
        ).select("event_id", "event_type", "api_version", "livemode", "created_at", "received_at", "payload")
    else:
        frame = frame.with_columns(
            clicked_at=ts("clicked_at"),
            received_at=ts("received_at"),
            is_bot=pl.col("is_bot").fill_null(False),
        )
    # the earliest landing of a key wins, whichever file it is in (rebuilds pick the same copy)
    frame = frame.sort("received_at", nulls_last=True, maintain_order=True).unique(
        PRIMARY_KEYS[stream], keep="first", maintain_order=True
    )
    return frame.to_arrow()


def read_new(stream: str, stream_dir: Path, offsets: dict[str, int]) -> Batch:
    """Everything landed in a stream since `offsets` (file → byte offset of the next unread line)."""
    tables: list[pa.Table] = []
    rejects: list[dict] = []
    torn = 0
    new_offsets = dict(offsets)
    for path in landing_files(stream_dir):
        rel = str(path.relative_to(stream_dir))
        start = offsets.get(rel, 0)
        size = path.stat().st_size
        if size <= start:
            continue
        chunk = _complete_chunk(path, start)
        if start + len(chunk) < size:
            torn += 1
        if not chunk:
            continue
        table, bad = _read_chunk(stream, rel, start, chunk)
        tables.append(table)
        rejects.extend(bad)
        new_offsets[rel] = start + len(chunk)
    schema = LANDED_FIELDS[stream]
    combined = pa.concat_tables(tables) if tables else schema.empty_table()
    return Batch(
        records=_typed(stream, combined),
        rejects=pa.Table.from_pylist(rejects, schema=REJECT_SCHEMA),
        offsets=new_offsets,
        torn_lines=torn,
    )


def iter_streams(landing_dir: Path, streams: tuple[str, ...]) -> Iterator[tuple[str, Path]]:
    for stream in streams:
        yield stream, landing_dir / stream
