"""`attro review`: list risk flags, approve or reject one; the decision applies on the next run."""

from __future__ import annotations

import argparse
import sys

from core.settings import Settings

# The handlers import DuckDB and the decision store when they run: `attro` starts every command
# (a no-change `attro run` included) without loading them.


_LISTED = (
    "flag_id, rule, decision, affiliate_id, coalesce(conversion_id, click_id), detected_at, detail,"
    " decided_at, note"
)


def _flags(
    settings: Settings, where: str = "true", params: list | None = None, columns: str = _LISTED
) -> list[tuple]:
    import duckdb

    from core.state.review_decisions import ReviewError

    path = settings.warehouse_path
    if not path.exists():
        raise ReviewError(f"no published warehouse at {path}: run `attro run` first")
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute("set timezone = 'UTC'")  # times as the ledger has them, whatever TZ says
        return con.execute(
            f"select {columns} from marts.risk_flags where {where} order by detected_at, flag_id",
            params or [],
        ).fetchall()
    finally:
        con.close()


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _list(args: argparse.Namespace, settings: Settings) -> int:
    from core.state.review_decisions import ReviewError, recorded_decisions

    where, params = ["true"], []
    if args.affiliate:
        where.append("affiliate_id = ?")
        params.append(args.affiliate)
    if args.open:
        where.append("decision = 'open'")
    try:
        rows = _flags(settings, " and ".join(where), params)
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("no risk flags" + (" open" if args.open else ""))
        return 0
    recorded = recorded_decisions(settings)
    waiting = 0
    for flag_id, rule, decision, affiliate, subject, detected, detail, decided, note in rows:
        who = affiliate or "-"
        print(f"{flag_id}  {decision:<8} {rule:<16} {who:<12} {subject or '-'}  {detected:%Y-%m-%d}")
        print(f"    {detail}")
        if decided is not None:
            print(f"    {decision} at {decided:%Y-%m-%d %H:%M}" + (f": {note}" if note else ""))
        latest = recorded.get(flag_id)
        if latest and latest["decision"] != decision:  # recorded since the warehouse was published
            waiting += 1
            said = f" ({latest['note']})" if latest.get("note") else ""
            print(f"    {latest['decision']} at {latest['decided_at']}{said}: applies on the next run")
    open_count = sum(1 for row in rows if row[2] == "open")
    summary = f"{_plural(len(rows), 'flag')}, {open_count} open"
    print(summary + (f", {waiting} decided and waiting for the next run" if waiting else ""))
    return 0


def _decide(decision: str) -> object:
    def run(args: argparse.Namespace, settings: Settings) -> int:
        from core.contracts import DECIDED_FLAG
        from core.state.review_decisions import FLAG_ID, ReviewError, record_decision

        try:
            if not FLAG_ID.fullmatch(args.flag_id):
                raise ReviewError(f"{args.flag_id!r} is not a flag id (rf_ and 16 hex digits)")
            found = _flags(settings, "flag_id = ?", [args.flag_id], ", ".join(DECIDED_FLAG))
            if not found:
                raise ReviewError(
                    f"no risk flag {args.flag_id} in the published warehouse (`attro review list`)"
                )
            flag = dict(zip(DECIDED_FLAG, found[0], strict=True))
            entry = record_decision(settings, args.flag_id, decision, args.note, flag=flag)
        except ReviewError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(
            f"{entry['flag_id']} {decision} at {entry['decided_at']}; applied on the next run (`attro run`)"
        )
        return 0

    return run


def add_review_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `review {list,approve,reject}`; each handler is called as func(args, settings)."""
    parser = subparsers.add_parser("review", help="risk flags: list them, approve or reject one")
    commands = parser.add_subparsers(dest="review_command", required=True)

    listing = commands.add_parser("list", help="the risk flags, oldest first, with their decision")
    listing.add_argument("--affiliate", help="only this affiliate's flags")
    listing.add_argument("--open", action="store_true", help="only flags still waiting for a decision")
    listing.set_defaults(func=_list)

    for decision, verb, help_text in (
        ("approved", "approve", "release the held commission: it follows the holding period"),
        ("rejected", "reject", "void the held commission, with the rule in its rule text"),
    ):
        command = commands.add_parser(verb, help=help_text)
        command.add_argument("flag_id", help="the id shown by `attro review list`")
        command.add_argument("--note", help="why (kept with the decision, shown on the lines)")
        command.set_defaults(func=_decide(decision))
