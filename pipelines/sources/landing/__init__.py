"""dlt source for the landing zone: each landed record loaded once into raw.*, through Arrow.

Incremental cursor: per landing file, the byte offset after the last complete line loaded, kept in
the resource state (committed with the load, so a failed load re-reads). A torn trailing line is
left for the next run; a corrupt line goes to raw.landing_rejects and is counted.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dlt
from dlt.sources import DltResource

from pipelines.sources.landing.helpers import read_new
from pipelines.sources.landing.settings import PRIMARY_KEYS, STREAMS

_INSERT_ONLY = {"disposition": "merge", "strategy": "insert-only"}


def stream_resource(landing_dir: Path, stream: str, stats: dict[str, Any]) -> DltResource:
    """Records of one stream → raw.<stream>, first landing of a primary key wins."""

    @dlt.resource(
        name=stream,
        primary_key=PRIMARY_KEYS[stream],
        write_disposition=_INSERT_ONLY,
        columns={"payload": {"data_type": "json"}} if stream == "stripe_events" else None,
    )
    def records() -> Iterator[Any]:
        state = dlt.current.resource_state()
        offsets: dict[str, int] = state.setdefault("offsets", {})
        batch = read_new(stream, landing_dir / stream, offsets)
        stats[stream] = {
            "records": batch.records.num_rows,
            "rejected_lines": batch.rejects.num_rows,
            "torn_lines_waiting": batch.torn_lines,
        }
        if batch.records.num_rows:
            yield batch.records
        if batch.rejects.num_rows:
            yield dlt.mark.with_hints(
                batch.rejects,
                dlt.mark.make_hints(table_name="landing_rejects", write_disposition="append", primary_key=[]),
            )
        state["offsets"] = batch.offsets

    return records


@dlt.source(name="landing", max_table_nesting=0)
def landing_source(
    landing_dir: Path, streams: tuple[str, ...] = STREAMS, stats: dict[str, Any] | None = None
) -> list[DltResource]:
    """The landing zone's streams (`stripe_events`, `clicks`)."""
    stats = {} if stats is None else stats
    return [stream_resource(landing_dir, stream, stats) for stream in streams]
