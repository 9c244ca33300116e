"""`attro secrets`: set, list and remove the Stripe webhook signing secrets in the encrypted store."""

from __future__ import annotations

import argparse
import getpass
import sys

from core.secrets import SecretStore, SecretStoreError
from core.settings import Settings


def _read_secret() -> str:
    """The secret from stdin: a hidden prompt on a terminal, else the first line of the pipe."""
    if sys.stdin.isatty():
        return getpass.getpass("Stripe webhook signing secret (whsec_...): ")
    return sys.stdin.readline()


def _set_stripe(args: argparse.Namespace, settings: Settings) -> int:
    store = SecretStore(settings)
    try:
        entry, added = store.add(_read_secret())
    except SecretStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verb = "added" if added else "already stored as"
    print(f"{verb} {entry.id} (fingerprint {entry.fingerprint}, added {entry.added_at})")
    if settings.webhook_secrets:
        print(
            "note: ATTRO_STRIPE_WEBHOOK_SECRET is set and takes precedence over the store",
            file=sys.stderr,
        )
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    try:
        stored = SecretStore(settings).load()
    except SecretStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.webhook_secrets:
        print("note: ATTRO_STRIPE_WEBHOOK_SECRET is set; the receiver uses it, not this store")
    if not stored:
        print("no stored secrets (add one with `attro secrets set-stripe < file`)")
        return 0
    print(f"{'id':<14} {'added_at':<21} fingerprint")
    for entry in stored:
        print(f"{entry.id:<14} {entry.added_at:<21} {entry.fingerprint}")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    try:
        entry = SecretStore(settings).remove(args.id)
    except SecretStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"removed {entry.id} (fingerprint {entry.fingerprint}); a running receiver stops using it within 1 s"
    )
    return 0


def add_secrets_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `secrets {set-stripe,list,remove}`; each handler is called as func(args, settings)."""
    parser = subparsers.add_parser("secrets", help="manage the Stripe webhook signing secrets (encrypted)")
    commands = parser.add_subparsers(dest="secrets_command", required=True)

    set_stripe = commands.add_parser(
        "set-stripe", help="store a signing secret read from stdin (never pass it as an argument)"
    )
    set_stripe.set_defaults(func=_set_stripe)

    listing = commands.add_parser("list", help="id, added date and fingerprint of each stored secret")
    listing.set_defaults(func=_list)

    remove = commands.add_parser("remove", help="delete a stored secret (a running receiver follows)")
    remove.add_argument("id", help="the id shown by `attro secrets list`")
    remove.set_defaults(func=_remove)
