"""The `attro` command line: serve, run, demo, export, close-period, review, secrets, stripe."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from datetime import UTC
from pathlib import Path
from typing import Any

from attro.arguments import PORT, add_proxy_argument, int_between, proxy_options
from attro.review import add_review_parser
from attro.secrets_cli import add_secrets_parser
from attro.stripe_cli import add_stripe_parser
from attro.web_cli import add_web_parsers
from core.heap import settled_imports
from core.settings import Settings, SettingsError


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from core.program import ProgramError
    from receiver.main import create_app
    from receiver.program_file import SUPERVISED_WORKER_ENV
    from receiver.readiness import startup_warnings
    from receiver.serving import serve_workers, uvicorn_options

    try:
        app = create_app(settings)  # also validates the program file before anything listens
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in startup_warnings(app.state):
        print(f"warning: {warning}", file=sys.stderr)
    # The options every launch of the receiver uses: request head cap and timeout, no access log.
    options = {
        "host": args.host,
        "port": args.port,
        "log_level": "info",
        **uvicorn_options(settings),
        **proxy_options(args),
    }
    if args.workers > 1:
        # each worker process builds its own app (and landing files) from the same ATTRO_* settings;
        # one started while the program file is bad serves the last version that loaded
        os.environ[SUPERVISED_WORKER_ENV] = "1"
        if not serve_workers("receiver.main:create_app", args.workers, options):
            print("error: a receiver worker could not start (its log says why): stopped", file=sys.stderr)
            return 1
    else:
        uvicorn.run(app, **options)
    return 0


def _say_waiting(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    if not args.verbose:
        # dlt logs every retry of a failing load job with its traceback: the run's one line says what
        # failed and why; --verbose shows dlt's log and the traceback. Read when dlt starts.
        os.environ.setdefault("RUNTIME__LOG_LEVEL", "CRITICAL")
    from pipelines import freshness

    if not args.force and freshness.unchanged(settings, freshness.fingerprint(settings, datetime.now(UTC))):
        # Asked before the pipeline's libraries load: a run with nothing new costs milliseconds.
        print(f"nothing new since the last run: {settings.warehouse_path} is current (--force rebuilds)")
        return 0

    with settled_imports():
        from attro.dagster_record import record_in_dagster
        from core.program import ProgramError
        from models.money import format_minor
        from pipelines.lib.warehouse import PipelineBusyError
        from pipelines.run import PipelineFailed, run_pipeline

    print(f"running the pipeline: landing {settings.landing_dir} -> {settings.warehouse_path}", flush=True)
    try:
        report = run_pipeline(settings, force=args.force, on_wait=_say_waiting)
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PipelineBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
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
    held = flags.get("held", {})
    if flags.get("open"):
        amounts = ", ".join(
            f"{format_minor(amount, currency)} {currency}" for currency, amount in sorted(held.items())
        )
        waits = "risk flag waits" if flags["open"] == 1 else "risk flags wait"
        print(
            f"  {flags['open']:>8} {waits} for review, holding {amounts or 'no commission yet'}"
            " (`attro review list --open`)"
        )
    print(f"published {settings.warehouse_path}")
    record_in_dagster(report, "attro run")
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
        carried = f"  carried forward {row['carried_forward']}" if row["carried_forward_minor"] else ""
        print(f"  {row['affiliate_id']:<16} {row['currency']} net {net:>12}  payable {payable:>12}{carried}")
    for path in export.files:
        print(f"wrote {path}")
    return 0


_PROVIDER_LABELS = {
    "paypal": "PayPal Payouts web upload, one file per currency",
    "wise": "Wise batch payment, send by email",
    "csv": "plain CSV",
}


def _payouts(args: argparse.Namespace, settings: Settings) -> int:
    import polars as pl

    from models.money import format_minor
    from pipelines.payouts import EMAIL_KEYS, PayoutError, export_payouts, not_paid_report, payout_row

    try:
        payouts = export_payouts(settings, args.period, args.format, Path(args.out) if args.out else None)
    except PayoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    closed = f"{payouts.closed_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    print(f"payouts for {payouts.period} (closed at {closed}): {_PROVIDER_LABELS[args.format]}")
    key = EMAIL_KEYS.get(args.format)
    for row in payouts.paid.iter_rows(named=True):
        print(payout_row(row, row[key] if key else row["name"]))
    totals = payouts.paid.group_by("currency").agg(pl.col("amount_minor").sum(), pl.len()).sort("currency")
    for currency, amount, count in totals.iter_rows():
        plural = "" if count == 1 else "s"
        print(f"total {currency}: {format_minor(amount, currency)} ({count} payout{plural})")
    if payouts.paid.is_empty():
        print("nothing to pay in this file")
    for path in payouts.files:
        print(f"wrote {path}")
    for path in payouts.removed:
        print(f"removed {path} (an earlier export's: uploading it too would pay twice)")
    for line in not_paid_report(payouts):
        print(line)
    if not payouts.left_out.is_empty():
        print(f"warning: {payouts.left_out.height} payable amount(s) left out of the file", file=sys.stderr)
    return 0


def _close_period(args: argparse.Namespace, settings: Settings) -> int:
    with settled_imports():
        from attro.closing import check_closable, close_period
        from attro.dagster_record import record_in_dagster
        from core.program import ProgramError
        from core.state.closed_periods import PeriodError
        from pipelines.lib.warehouse import PipelineBusyError
        from pipelines.run import PipelineFailed, run_pipeline

    meta = None
    try:
        check_closable(settings, args.period)  # refuse a wrong month before a full run, not after
        print("bringing the warehouse up to date before closing…", flush=True)
        before = run_pipeline(settings, on_wait=_say_waiting)
        record_in_dagster(before, f"attro close-period {args.period} (before closing)")
        meta = close_period(settings, args.period, force=args.force)
        # publish the statements with their closed_at
        record_in_dagster(run_pipeline(settings, on_wait=_say_waiting), f"attro close-period {args.period}")
    except (PeriodError, PipelineFailed, ProgramError) as exc:
        if meta is not None:  # closed; only the publish with closed_at failed
            print(f"closed {meta['period']} at {meta['closed_at']}; the next successful run publishes it")
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PipelineBusyError as exc:
        if meta is not None:  # closed; only the publish with closed_at waits for the other run
            print(
                f"closed {meta['period']} at {meta['closed_at']}; another run held the lock:"
                " `attro run` publishes it"
            )
            return 0
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"closed {meta['period']} at {meta['closed_at']} ({meta['lines']} lines frozen)")
    if meta.get("held"):
        print(
            f"note: {meta['held']} of them are held for review (`attro review list --open`): a decision"
            " made later pays or voids them in the first open month"
        )
    print(f"kept in {settings.state_dir / 'closed_periods' / meta['period']}")
    print("later changes to its payments land as new lines in the first open month")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attro", description="Affiliate conversion tracking for Stripe.")
    parser.add_argument("--version", action=_Version, help="show the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True)
    add_secrets_parser(sub)
    add_review_parser(sub)
    add_stripe_parser(sub)
    add_web_parsers(sub)

    serve = sub.add_parser("serve", help="run the receiver (webhooks, tracking links, clicks API)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=PORT, default=8000, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int_between(1, 64), default=1, help="receiver processes (default 1)")
    add_proxy_argument(serve)
    serve.set_defaults(func=_serve)

    run = sub.add_parser("run", help="materialize the whole asset graph once, in-process")
    run.add_argument("--force", action="store_true", help="run even when nothing changed since the last run")
    run.add_argument("--verbose", action="store_true", help="print the traceback when a step fails")
    run.set_defaults(func=_run)

    demo = sub.add_parser("demo", help="simulate an affiliate program end to end and summarize it")
    demo.add_argument(
        "--seed",
        type=int,
        default=7,
        help="replay the story with other ids, IPs, duplicates and order (default 7)",
    )
    demo.add_argument("--web", action="store_true", help="then serve the admin and the portal until Ctrl-C")
    demo.set_defaults(func=_demo)

    export = sub.add_parser("export", help="finance exports")
    what = export.add_subparsers(dest="what", required=True)
    commissions = what.add_parser("commissions", help="a period's commission lines and statement")
    commissions.add_argument("--period", required=True, help="YYYY-MM")
    commissions.add_argument(
        "--format", default="csv", choices=["csv", "parquet", "xlsx"], help="default csv"
    )
    commissions.add_argument("--out", default=None, help="directory (default $ATTRO_DATA_DIR/exports)")
    commissions.set_defaults(func=_export)
    payouts = what.add_parser("payouts", help="a closed month's payable amounts as a bulk payout file")
    payouts.add_argument("--period", required=True, help="YYYY-MM, a closed month")
    payouts.add_argument("--format", required=True, choices=["paypal", "wise", "csv"])
    payouts.add_argument("--out", default=None, help="directory (default $ATTRO_DATA_DIR/exports)")
    payouts.set_defaults(func=_payouts)

    close = sub.add_parser("close-period", help="freeze a month's commission lines and statements")
    close.add_argument("period", help="YYYY-MM, a month that is over")
    close.add_argument("--force", action="store_true", help="close even with lines still pending")
    close.set_defaults(func=_close_period)
    return parser


def attro_version() -> str:
    """The installed package's version (pyproject.toml), as `attro --version` prints it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("attro")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


class _Version(argparse.Action):
    """`--version`, looked up only when asked: reading the installed packages' metadata cost every
    other command (`attro run` with nothing new among them) about 0.05 s."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(f"attro {attro_version()}")
        parser.exit()


def load_settings() -> Settings | None:
    """The ATTRO_* settings, or None after printing one line per bad value (no traceback)."""
    try:
        return Settings()
    except SettingsError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        settings = load_settings()
        if settings is None:
            return 2
        code = args.func(args, settings)
        sys.stdout.flush()  # here, not at exit, so a reader that went away is met below
        return code
    except BrokenPipeError:
        # The reader stopped reading (`attro review list | head -3`): stop quietly, as `ls | head`
        # does, and keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
