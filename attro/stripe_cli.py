"""`attro stripe sync` and `attro stripe backfill`: the events webhooks missed, and older history, read
from Stripe's API into the landing zone."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from typing import Any

from core.settings import Settings


def parse_since(text: str) -> datetime:
    """`--since`: a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 time, not in the future."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a date (YYYY-MM-DD) or an RFC 3339 time, got {text!r}"
        ) from None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if value > datetime.now(UTC):
        raise argparse.ArgumentTypeError(f"is in the future: {text!r}")
    return value


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _print_sync(report: Any) -> None:
    print(f"events created {_when(report.since)} to {_when(report.until)}, of the types the rules read:")
    print(f"  {'event type':<42} {'seen':>7} {'already landed':>15} {'landed now':>11}")
    already = report.already_landed
    for event_type in sorted(report.seen):
        seen, landed = report.seen[event_type], report.landed[event_type]
        print(f"  {event_type:<42} {seen:>7} {already[event_type]:>15} {landed:>11}")
    total_seen, total_landed = sum(report.seen.values()), report.missed_by_webhooks
    print(f"  {'all':<42} {total_seen:>7} {total_seen - total_landed:>15} {total_landed:>11}")


def _sync_progress(report: Any) -> None:
    """One line per page of events read, on stderr (the table at the end is the command's output)."""
    seen, landed = sum(report.seen.values()), report.missed_by_webhooks
    print(f"  {seen} events read so far, {landed} landed", file=sys.stderr, flush=True)


def _say_waiting(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _patient_sleep(seconds: float) -> None:
    """Wait out a 429, saying so: a long sync is not stuck."""
    print(f"  Stripe asked to slow down (429): waiting {seconds:g} s", file=sys.stderr, flush=True)
    time.sleep(seconds)


def _failed(exc: Any) -> int:
    """Print a Stripe failure in one line; 2 when the key must be fixed, 1 when trying again may do."""
    print(f"error: {exc}", file=sys.stderr)
    return 2 if exc.key_problem else 1


def _sync(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.lib.warehouse import PipelineBusyError
    from pipelines.sources.stripe_api.helpers import StripeApiError
    from pipelines.sources.stripe_api.settings import EVENTS_HORIZON, SYNC_GRACE
    from pipelines.stripe_sync import SyncFailed, sync_events

    if args.since is not None and args.since > datetime.now(UTC) - SYNC_GRACE:
        minutes = int(SYNC_GRACE.total_seconds() // 60)
        print(
            f"error: --since {_when(args.since)} is within the last {minutes} minutes: a sync reads events"
            f" created up to {minutes} minutes ago (younger ones are still on their way by webhook)",
            file=sys.stderr,
        )
        return 2
    try:
        report = sync_events(
            settings, args.since, sleep=_patient_sleep, progress=_sync_progress, on_wait=_say_waiting
        )
    except SyncFailed as exc:
        if exc.report.seen:
            _print_sync(exc.report)
            print(
                f"kept the {exc.report.missed_by_webhooks} events landed before the failure", file=sys.stderr
            )
        code = _failed(exc)
        if not exc.key_problem:
            print("run `attro stripe sync` again to go on from there", file=sys.stderr)
        return code
    except StripeApiError as exc:
        return _failed(exc)
    except PipelineBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: cannot land events: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1
    _print_sync(report)
    if report.since < report.until - EVENTS_HORIZON:
        print(
            f"note: Stripe lists only the last {EVENTS_HORIZON.days} days of events; for what was created"
            " before, run `attro stripe backfill --since` with the same date",
            file=sys.stderr,
        )
    if report.missed_by_webhooks:
        print(
            f"landed {report.missed_by_webhooks} events the webhooks had missed (source 'api') in"
            f" {settings.landing_dir / 'stripe_events'}; `attro run` loads them"
        )
    else:
        print("every event was landed already: the webhooks missed nothing")
    return 0


def _print_backfill(report: Any) -> None:
    print(f"objects created {_when(report.since)} to {_when(report.until)}:")
    print(f"  {'objects':<20} {'read':>7} {'events already landed':>22} {'events landed now':>18}")
    for kind in sorted(report.objects):
        read, already, landed = report.objects[kind], report.already_landed[kind], report.landed[kind]
        print(f"  {kind:<20} {read:>7} {already:>22} {landed:>18}")
    totals = (sum(c.values()) for c in (report.objects, report.already_landed, report.landed))
    read, already, landed = totals
    print(f"  {'all':<20} {read:>7} {already:>22} {landed:>18}")


def _backfill_progress(window: int, windows: int, end: Any, report: Any) -> None:
    """One line per window read, on stderr (the table at the end is the command's output)."""
    read, landed = sum(report.objects.values()), sum(report.landed.values())
    print(
        f"  window {window} of {windows}: objects created up to {_when(end)} read;"
        f" {read} objects so far, {landed} events landed",
        file=sys.stderr,
        flush=True,
    )


def _backfill(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.sources.stripe_api.helpers import StripeApiError
    from pipelines.stripe_backfill import BackfillFailed, backfill_objects

    try:
        report = backfill_objects(settings, args.since, sleep=_patient_sleep, progress=_backfill_progress)
    except BackfillFailed as exc:
        if not exc.key_problem:  # a rejected key read nothing: no table of zeros before the error
            _print_backfill(exc.report)
        code = _failed(exc)
        if not exc.key_problem:
            print("run the same `attro stripe backfill` again to go on from there", file=sys.stderr)
        return code
    except StripeApiError as exc:
        return _failed(exc)
    except OSError as exc:
        print(f"error: cannot land events: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1
    _print_backfill(report)
    landed = sum(report.landed.values())
    print(
        f"landed {landed} events of backfilled objects (source 'backfill') in"
        f" {settings.landing_dir / 'stripe_events'}; `attro run` turns them into payments, conversions"
        " and commission lines"
    )
    return 0


def add_stripe_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `stripe {sync,backfill}`; each handler is called as func(args, settings)."""
    parser = subparsers.add_parser("stripe", help="read Stripe's API: heal missed webhooks, backfill history")
    commands = parser.add_subparsers(dest="stripe_command", required=True)

    sync = commands.add_parser(
        "sync", help="land the events Stripe lists that no webhook delivered (the last 30 days)"
    )
    sync.add_argument(
        "--since",
        type=parse_since,
        default=None,
        help="YYYY-MM-DD or RFC 3339 (default: 30 days ago, as far back as Stripe's events go)",
    )
    sync.set_defaults(func=_sync)

    backfill = commands.add_parser(
        "backfill",
        help="land older history: the objects the rules read (sessions, invoices, charges, refunds, ...)",
    )
    backfill.add_argument(
        "--since",
        type=parse_since,
        required=True,
        help="YYYY-MM-DD or RFC 3339: objects created from then on",
    )
    backfill.set_defaults(func=_backfill)
