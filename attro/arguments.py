"""Argument types the commands share: a bad value is refused by argparse in one line, exit 2."""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Callable


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An integer from `low` to `high` (a port past 65535 would otherwise wrap to another one)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


PORT = int_between(1, 65535)


def trusted_proxies(text: str) -> str:
    """`--forwarded-allow-ips`: the proxies whose X-Forwarded-For gives the client's address, comma
    separated addresses or networks, or `*` (any: only when nothing but the proxy can reach the port).
    uvicorn would take a misspelt entry as a name that never matches, trusting nobody, silently."""
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    if not entries:
        raise argparse.ArgumentTypeError("give the proxy's address, e.g. 10.0.0.5 or 10.0.0.0/24")
    if "*" in entries:
        if len(entries) > 1:  # uvicorn trusts any only for a lone `*`: beside others it matches nothing
            raise argparse.ArgumentTypeError("* (any proxy) stands alone, not beside addresses")
        return "*"
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{entry!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24, or * for any)"
            ) from None
        try:  # as uvicorn reads it: with host bits set it would match nobody, silently
            ipaddress.ip_network(entry)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{entry!r} has host bits set: did you mean {network}?"
            ) from None
    return ",".join(entries)


def add_proxy_argument(parser: argparse.ArgumentParser) -> None:
    """`--forwarded-allow-ips` on a command that serves HTTP."""
    parser.add_argument(
        "--forwarded-allow-ips",
        type=trusted_proxies,
        default=None,
        metavar="ADDRESSES",
        help="proxies trusted to give the client's address in X-Forwarded-For, comma separated"
        " (default: $FORWARDED_ALLOW_IPS, else 127.0.0.1,::1: a proxy on the same host)",
    )


def proxy_options(args: argparse.Namespace) -> dict[str, str]:
    """uvicorn's `forwarded_allow_ips` when `--forwarded-allow-ips` was given; else none (uvicorn's
    own default: $FORWARDED_ALLOW_IPS, or this host)."""
    return {} if args.forwarded_allow_ips is None else {"forwarded_allow_ips": args.forwarded_allow_ips}
