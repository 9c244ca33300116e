"""`attro web` (the admin and portal process), `attro web hash-password` and `attro portal link`."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from attro.arguments import PORT, add_proxy_argument, proxy_options
from core.settings import Settings


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from core.program import ProgramError
    from receiver.serving import uvicorn_options
    from web.app import create_app
    from web.keys import KeyFileError
    from web.passwords import PasswordError

    try:
        app = create_app(settings)
    except (ProgramError, PasswordError, KeyFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"attro web on http://{args.host}:{args.port}: the admin at /admin, the portal at /portal", flush=True
    )
    print(f"  reading {settings.warehouse_path} (read-only, reopened after each run)", flush=True)
    if settings.cookie_secure:
        print(
            "  session cookies are Secure: browsers send them over https (and to localhost) only;"
            " ATTRO_COOKIE_SECURE=false for plain http elsewhere",
            flush=True,
        )
    # the receiver's HTTP protocol: request heads capped and timed out here too
    options = {"host": args.host, "port": args.port, "log_level": "warning", **proxy_options(args)}
    uvicorn.run(app, **options, **uvicorn_options(settings))
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("admin password: ")
        if first != getpass.getpass("again: "):
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")  # from a pipe or a file: never an argument (shell history)


def _hash_password(args: argparse.Namespace, settings: Settings) -> int:
    from web.passwords import hash_password

    try:
        password = _read_password()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if len(password) < 12:
        print("error: use at least 12 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


def _portal_link(args: argparse.Namespace, settings: Settings) -> int:
    from core.program import ProgramError, load_program
    from web.keys import KeyFileError, signing_key
    from web.portal_links import PortalLinkError, make_token, portal_url

    try:
        program = load_program(settings.program_path)
    except ProgramError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if all(a.id != args.affiliate for a in program.affiliates):
        print(f"error: no affiliate {args.affiliate!r} in {settings.program_path}", file=sys.stderr)
        return 2
    try:
        token = make_token(signing_key(settings), args.affiliate, args.days)
    except (PortalLinkError, KeyFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(portal_url(args.base_url or settings.web_url, token))
    until = datetime.now(UTC).timestamp() + args.days * 86_400
    print(f"valid until {datetime.fromtimestamp(until, UTC):%Y-%m-%d %H:%M} UTC", file=sys.stderr)
    return 0


def add_web_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add `web [--host] [--port]`, `web hash-password` and `portal link AFFILIATE [--days N]`."""
    web = subparsers.add_parser("web", help="the merchant's admin and the affiliates' portal (port 8001)")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    web.add_argument("--port", type=PORT, default=8001, help="port to listen on (default 8001)")
    add_proxy_argument(web)
    web.set_defaults(func=_serve)
    web_commands = web.add_subparsers(dest="web_command")
    hashing = web_commands.add_parser(
        "hash-password", help="print a hash of the admin password (read from stdin) for ATTRO_ADMIN_PASSWORD"
    )
    hashing.set_defaults(func=_hash_password)

    portal = subparsers.add_parser("portal", help="the affiliates' portal")
    portal_commands = portal.add_subparsers(dest="portal_command", required=True)
    link = portal_commands.add_parser("link", help="print a signed, expiring sign-in link for an affiliate")
    link.add_argument("affiliate", help="the affiliate's id in the program file")
    link.add_argument("--days", type=int, default=30, help="how long the link works (default 30)")
    link.add_argument(
        "--base-url", default=None, help="where affiliates reach attro web (default ATTRO_WEB_URL)"
    )
    link.set_defaults(func=_portal_link)
