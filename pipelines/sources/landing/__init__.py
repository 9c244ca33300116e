"""dlt source for the landing zone: each landed record loaded once into raw.*, through Arrow.

Where each landing file was read up to is not dlt state but data: every load also writes
`landing_offsets` rows (stream, file, end offset), so the offsets are whatever the completed loads
in the lake say, and a load that never completed is simply read again. A torn trailing line is
left for the next run; a corrupt line goes to raw.landing_rejects and is counted; a record whose
primary key is already loaded (a redelivery) is dropped by `fresh`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import polars as pl
import pyarrow as pa
from dlt.sources import DltResource

from core.contracts import LANDING_OFFSET, LANDING_REJECT, arrow_schema
from pipelines.sources.landing.helpers import iter_new, reject_reason, torn_lines
from pipelines.sources.landing.settings import STREAMS

Fresh = Callable[[str, pl.DataFrame], pl.DataFrame]  # (stream, records) → those not loaded before


def stream_resource(
    landing_dir: Path, stream: str, offsets: dict[str, int], fresh: Fresh, stats: dict[str, Any]
) -> DltResource:
    """Records of one stream → raw.<stream>; its quarantined lines and offsets beside them."""

    @dlt.resource(name=stream, write_disposition="append")
    def records() -> Iterator[Any]:
        counts = stats[stream] = {"records": 0, "new": 0, "rejected_lines": 0, "torn_lines_waiting": 0}
        reasons = counts["rejected_reasons"] = Counter()
        ends: list[dict[str, Any]] = []
        for chunk in iter_new(stream, landing_dir / stream, offsets):
            counts["records"] += chunk.records.height
            counts["rejected_lines"] += len(chunk.rejects)
            reasons.update(reject_reason(reject["error"]) for reject in chunk.rejects)
            new = fresh(stream, chunk.records)  # dropped in Polars, before the one copy into Arrow
            counts["new"] += new.height
            if new.height:
                yield new.to_arrow()
            if chunk.rejects:
                yield dlt.mark.with_table_name(
                    pa.Table.from_pylist(chunk.rejects, schema=arrow_schema(LANDING_REJECT)),
                    "landing_rejects",
                )
            for landing_file, end in chunk.ends:
                ends.append({"stream": stream, "landing_file": landing_file, "end_offset": end})
                offsets[landing_file] = end
        if ends:
            yield dlt.mark.with_table_name(
                pa.Table.from_pylist(ends, schema=arrow_schema(LANDING_OFFSET)), "landing_offsets"
            )
        counts["torn_lines_waiting"] = torn_lines(landing_dir / stream, offsets)

    return records


@dlt.source(name="landing", max_table_nesting=0)
def landing_source(
    landing_dir: Path,
    offsets: dict[str, dict[str, int]],
    fresh: Fresh,
    streams: tuple[str, ...] = STREAMS,
    stats: dict[str, Any] | None = None,
) -> list[DltResource]:
    """The landing zone's streams (`stripe_events`, `clicks`), read from `offsets` on."""
    stats = {} if stats is None else stats
    return [
        stream_resource(landing_dir, stream, offsets.setdefault(stream, {}), fresh, stats)
        for stream in streams
    ]
