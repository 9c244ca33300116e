"""Dagster ops outside the asset graph: the daily Stripe sync that lands what the webhooks missed, and
the run history's pruning all at once (a backlog too big for the hourly schedule's ticks).

The sync writes landing files, not a table: the `new_landing_files` sensor then runs
`materialize_all`, which loads them into raw/stripe_events. How many events the webhooks had missed
is recorded on raw/stripe_events as an observation (`missed_by_webhooks`), beside its loads, and
on the op's output.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.resources import AttroResource
from pipelines.run_history import prune_runs
from pipelines.sources.stripe_api.helpers import NoApiKey, StripeApiError
from pipelines.stripe_sync import sync_events

RAW_EVENTS = dg.AssetKey(["raw", "stripe_events"])


@dg.op(
    out=dg.Out(dg.Nothing),
    description="Land the events Stripe's API lists (the last 30 days) that no webhook landed; skipped "
    "without an API key.",
)
def sync_stripe_events(
    context: dg.OpExecutionContext, attro: AttroResource
) -> Iterator[dg.Output | dg.AssetObservation]:
    try:
        report = sync_events(attro.settings, on_wait=context.log.info)  # another sync runs: say so
    except NoApiKey as exc:
        context.log.info(f"skipped: {exc}")
        yield dg.Output(None, metadata={"skipped": str(exc)})
        return
    except StripeApiError as exc:
        # One line, not a traceback: a rejected key is fixed by ops, not by retrying.
        raise dg.Failure(description=str(exc), allow_retries=not exc.key_problem) from None
    metadata = report.metadata()
    context.log.info(f"{report.missed_by_webhooks} events the webhooks had missed are landed now")
    yield dg.AssetObservation(asset_key=RAW_EVENTS, metadata=metadata)
    yield dg.Output(None, metadata=metadata)


@dg.op(
    description="Delete every finished run older than ATTRO_DAGSTER_KEEP_RUNS_DAYS (what the hourly "
    "prune_run_history schedule deletes a few hundred at a time), with the same runs kept."
)
def prune_all_old_runs(context: dg.OpExecutionContext, attro: AttroResource) -> None:
    days = attro.settings.dagster_keep_runs_days
    pruned = prune_runs(
        context.instance, datetime.now(UTC) - timedelta(days=days), budget_seconds=float("inf")
    )
    context.log.info(f"{pruned} older than {days} days")
