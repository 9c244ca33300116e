"""The `attro` command line: serve, run, demo, export."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from attro.review import add_review_parser
from attro.secrets_cli import add_secrets_parser
from attro.web_cli import add_web_parsers
from core.settings import Settings


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from core.program import ProgramError
    from receiver.main import create_app
    from receiver.serving import uvicorn_options

    try:
        app = create_app(settings)  # also validates the program file before anything listens
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The options every launch of the receiver uses: request head cap and timeout, no access log.
    options = {"host": args.host, "port": args.port, "log_level": "info", **uvicorn_options(settings)}
    if args.workers > 1:
        # each worker process builds its own app (and landing files) from the same ATTRO_* settings
        uvicorn.run("receiver.main:create_app", factory=True, workers=args.workers, **options)
    else:
        uvicorn.run(app, **options)
    return 0


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from pipelines import freshness

    if not args.force and freshness.unchanged(settings, freshness.fingerprint(settings, datetime.now(UTC))):
        # Asked before the pipeline's libraries load: a run with nothing new costs milliseconds.
        print(f"nothing new since the last run: {settings.warehouse_path} is current (--force rebuilds)")
        return 0

    from core.program import ProgramError
    from models.money import format_minor
    from pipelines.run import PipelineFailed, run_pipeline

    print(f"running the pipeline: landing {settings.landing_dir} -> {settings.warehouse_path}", flush=True)
    try:
        report = run_pipeline(settings, force=args.force)
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PipelineFailed as exc:
        print(f"error: {exc.step} failed: {exc.cause}", file=sys.stderr)
        if args.verbose:
            traceback.print_exception(exc.__cause__ or exc, file=sys.stderr)
        else:
            print("(run with --verbose for the traceback)", file=sys.stderr)
        return 1
    if report.get("skipped"):
        print(f"nothing new since the last run: {settings.warehouse_path} is current")
        return 0
    events, clicks = report.get("raw/stripe_events", {}), report.get("raw/clicks", {})
    print(
        f"  loaded {events.get('new_events', 0)} new events and {clicks.get('new_clicks', 0)} new clicks"
        f" ({events.get('rejected_lines', 0) + clicks.get('rejected_lines', 0)} corrupt landing lines"
        " quarantined in raw.landing_rejects)"
    )
    staged = report.get("staging/stripe_objects", {}).get("new_rows", 0)
    quarantined = report.get("staging/rejected_events", {}).get("new_rows", 0)
    print(f"  decoded {staged} new events ({quarantined} quarantined in staging.rejected_events)")
    for key, label in (
        ("marts/payments", "payments"),
        ("marts/payment_adjustments", "refunds and disputes"),
        ("marts/conversions", "conversions"),
        ("marts/unattributed_payments", "unattributed payments"),
        ("marts/commission_lines", "commission lines"),
        ("marts/affiliate_statements", "statement rows"),
        ("marts/rejected_events", "events rejected (see marts.rejected_events)"),
    ):
        print(f"  {report.get(key, {}).get('rows', 0):>8} {label}")
    flags = report.get("marts/risk_flags", {})
    held = report.get("marts/affiliate_statements", {}).get("held", {})
    if flags.get("open"):
        amounts = ", ".join(
            f"{format_minor(amount, currency)} {currency}" for currency, amount in sorted(held.items())
        )
        print(
            f"  {flags['open']:>8} risk flags wait for review, holding {amounts or 'no commission yet'}"
            " (`attro review list --open`)"
        )
    print(f"published {settings.warehouse_path}")
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from attro.demo import run_demo

    return run_demo(settings, seed=args.seed, web=args.web)


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.exports import ExportError, export_commissions

    try:
        export = export_commissions(settings, args.period, args.format, Path(args.out) if args.out else None)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for line in export.header[1:]:
        print(line)
    for row in export.statement.iter_rows(named=True):
        net, payable = row["net"], row["payable"]
        print(f"  {row['affiliate_id']:<16} {row['currency']} net {net:>12}  payable {payable:>12}")
    for path in export.files:
        print(f"wrote {path}")
    return 0


def _close_period(args: argparse.Namespace, settings: Settings) -> int:
    from attro.closing import check_closable, close_period
    from core.state.closed_periods import PeriodError
    from pipelines.run import PipelineFailed, run_pipeline

    try:
        check_closable(settings, args.period)  # refuse a wrong month before a full run, not after
        print("bringing the warehouse up to date before closing…", flush=True)
        run_pipeline(settings)
        meta = close_period(settings, args.period, force=args.force)
        run_pipeline(settings)  # publish the statements with their closed_at
    except (PeriodError, PipelineFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"closed {meta['period']} at {meta['closed_at']} ({meta['lines']} lines frozen)")
    print(f"kept in {settings.state_dir / 'closed_periods' / meta['period']}")
    print("later changes to its payments land as new lines in the first open month")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attro", description="Affiliate conversion tracking for Stripe.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_secrets_parser(sub)
    add_review_parser(sub)
    add_web_parsers(sub)

    serve = sub.add_parser("serve", help="run the receiver (webhooks, tracking links, clicks API)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="receiver processes (default 1)")
    serve.set_defaults(func=_serve)

    run = sub.add_parser("run", help="materialize the whole asset graph once, in-process")
    run.add_argument("--force", action="store_true", help="run even when nothing changed since the last run")
    run.add_argument("--verbose", action="store_true", help="print the traceback when a step fails")
    run.set_defaults(func=_run)

    demo = sub.add_parser("demo", help="simulate an affiliate program end to end and summarize it")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--web", action="store_true", help="then serve the admin and the portal until Ctrl-C")
    demo.set_defaults(func=_demo)

    export = sub.add_parser("export", help="finance exports")
    what = export.add_subparsers(dest="what", required=True)
    commissions = what.add_parser("commissions", help="a period's commission lines and statement")
    commissions.add_argument("--period", required=True, help="YYYY-MM")
    commissions.add_argument("--format", default="csv", choices=["csv", "parquet", "xlsx"])
    commissions.add_argument("--out", default=None, help="directory (default $ATTRO_DATA_DIR/exports)")
    commissions.set_defaults(func=_export)

    close = sub.add_parser("close-period", help="freeze a month's commission lines and statements")
    close.add_argument("period", help="YYYY-MM, a month that is over")
    close.add_argument("--force", action="store_true", help="close even with lines still pending")
    close.set_defaults(func=_close_period)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args, Settings())


if __name__ == "__main__":
    sys.exit(main())
