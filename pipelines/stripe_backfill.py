"""Backfilling history (`attro stripe backfill --since DATE`): the objects the rules read, pulled from
Stripe's API with dlt, landed as snapshot events (source `backfill`) the pipeline reads like webhooks.

dlt pulls (pipelines/sources/stripe_api: a resource per list, an incremental `created` cursor each)
and its custom destination lands: every batch of objects becomes its snapshot events
(pipelines/sources/stripe_api/snapshots.py), landed with one write and fsync. dlt keeps its state
under data/state/stripe_backfill/ (one pipeline per `--since`), so the pull survives a warehouse
rebuild and goes on where it stopped: history is read in windows of BACKFILL_WINDOW, each a dlt load
whose cursor is committed once it is landed; a load an interruption left half-sent is finished first,
batch by batch; a snapshot already in the landing zone is never landed again.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import dlt
import orjson
import pyarrow as pa
import stripe
from dlt.common.schema import TTableSchema
from dlt.pipeline.exceptions import PipelineStepFailed

from core.landing_records import BACKFILL
from core.settings import Settings
from pipelines.lib.landed_events import EventLanding, landed_event_ids
from pipelines.sources.stripe_api import stripe_objects
from pipelines.sources.stripe_api.helpers import StripeApiError, connect
from pipelines.sources.stripe_api.settings import BACKFILL_WINDOW, OBJECT_KINDS, PAGE_SIZE, ObjectKind
from pipelines.sources.stripe_api.snapshots import DATED_EARLIER, Reading, snapshot_events

# A landed package's files are the objects again: the landing zone has them, the state keeps only the cursor.
dlt.config["load.delete_completed_jobs"] = True


@dataclass
class BackfillReport:
    """What a backfill read and landed, per kind of object (dlt resource)."""

    since: datetime
    until: datetime
    objects: Counter[str] = field(default_factory=Counter)
    landed: Counter[str] = field(default_factory=Counter)  # snapshot events landed now
    already_landed: Counter[str] = field(default_factory=Counter)
    files: set[Path] = field(default_factory=set)


class BackfillFailed(StripeApiError):
    """A backfill stopped part way; `report` holds what was landed (the next backfill goes on)."""

    def __init__(self, message: str, status: int | None, report: BackfillReport) -> None:
        super().__init__(message, status)
        self.report = report


class LandingSink:
    """dlt's custom destination: each batch of objects → their snapshot events, landed in one commit."""

    def __init__(
        self, landing: EventLanding, reading: Reading, known: set[str], report: BackfillReport
    ) -> None:
        self.landing, self.reading, self.known, self.report = landing, reading, known, report

    def __call__(self, items: pa.RecordBatch, table: TTableSchema) -> None:
        kind = table["name"]
        events = [
            e
            for obj in items.column("object").to_pylist()
            for e in snapshot_events(orjson.loads(obj), self.reading)
        ]
        # once per batch too: a discount every renewal invoice of a subscription lists is one event
        new = list({e["id"]: e for e in events if e["id"] not in self.known}.values())
        self.landing.land(new)
        self.known.update(e["id"] for e in new)
        self.report.objects[kind] += items.num_rows
        self.report.landed[kind] += len(new)
        self.report.already_landed[kind] += len(events) - len(new)


def windows(since: datetime, until: datetime) -> Iterator[datetime]:
    """The ends of the windows history is read in, the last one `until`."""
    end = since + BACKFILL_WINDOW
    while end < until:
        yield end
        end += BACKFILL_WINDOW
    yield until


def pipeline_name(since: datetime) -> str:
    return f"stripe_backfill_{since:%Y%m%d%H%M%S}"


def _pipeline(settings: Settings, since: datetime, sink: LandingSink) -> dlt.Pipeline:
    destination = dlt.destinations.destination(
        destination_callable=sink,
        destination_name="attro_landing",
        loader_file_format="parquet",
        batch_size=PAGE_SIZE,
        max_parallel_load_jobs=1,  # one writer appends to the landing file
    )
    return dlt.pipeline(
        pipeline_name=pipeline_name(since),
        destination=destination,
        dataset_name="stripe",
        pipelines_dir=str(settings.state_dir / "stripe_backfill"),
    )


def _stripe_cause(exc: BaseException) -> StripeApiError | None:
    node: BaseException | None = exc
    while node is not None and not isinstance(node, StripeApiError):
        node = node.__cause__ or node.__context__
    return node


def backfill_objects(
    settings: Settings,
    since: datetime,
    now: datetime | None = None,
    *,
    kinds: tuple[ObjectKind, ...] = OBJECT_KINDS,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int, int, datetime, BackfillReport], None] | None = None,
) -> BackfillReport:
    """Land the snapshot events of every object created from `since` on that the landing zone lacks.

    `progress(window, windows, end, report)` after each window is read and landed. NoApiKey without a
    key; BackfillFailed (with the partial report) when Stripe fails part way.
    """
    report = BackfillReport(since=since, until=now or datetime.now(UTC))
    api = connect(settings)
    reading = Reading(api_version=stripe.api_version, livemode=api.livemode)
    landing = EventLanding(settings, BACKFILL)
    sink = LandingSink(landing, reading, landed_event_ids(settings, since, DATED_EARLIER), report)
    pipeline = _pipeline(settings, since, sink)
    try:
        if pipeline.has_pending_data:  # a load an interruption left: send its remaining batches first
            pipeline.normalize()
            pipeline.load()
        ends = list(windows(since, report.until))
        for number, end in enumerate(ends, start=1):
            pipeline.run(stripe_objects(api, int(since.timestamp()), int(end.timestamp()), kinds, sleep))
            if progress is not None:
                progress(number, len(ends), end, report)
    except PipelineStepFailed as exc:
        cause = _stripe_cause(exc)
        if cause is None:
            raise
        raise BackfillFailed(str(cause), cause.status, report) from None
    finally:
        report.files = landing.paths
        landing.close()
    return report
