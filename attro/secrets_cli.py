"""`attro secrets`: set, list and remove the Stripe signing secrets and API key in the encrypted store."""

from __future__ import annotations

import argparse
import getpass
import sys

from core.secrets import STRIPE_API_KEY, SecretStore, SecretStoreError
from core.settings import Settings

KIND_LABELS = {STRIPE_API_KEY: "api key"}  # anything else is a webhook signing secret


def _read_secret(command: str, prompt: str) -> str:
    """The secret from stdin: a hidden prompt on a terminal, else the first line of the pipe that is not
    blank (a file saved with an empty first line said "nothing was read")."""
    if sys.stdin.isatty():
        value = getpass.getpass(prompt)
    else:
        value = next((line for line in sys.stdin if line.strip()), "")
    if not value.strip():
        raise SecretStoreError(
            f"nothing was read from stdin: pipe the value in, e.g. `attro secrets {command} < file`"
        )
    return value


def _set_stripe(args: argparse.Namespace, settings: Settings) -> int:
    store = SecretStore(settings)
    try:
        entry, added = store.add(_read_secret("set-stripe", "Stripe webhook signing secret (whsec_...): "))
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


def _set_stripe_api_key(args: argparse.Namespace, settings: Settings) -> int:
    try:
        entry, replaced = SecretStore(settings).set_api_key(
            _read_secret("set-stripe-api-key", "Stripe API key (rk_...): ")
        )
    except SecretStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"stored the Stripe API key as {entry.id} (fingerprint {entry.fingerprint}, added {entry.added_at})"
    )
    for old in replaced:
        print(f"replaced {old.id} (fingerprint {old.fingerprint})")
    if entry.value.startswith("sk_"):
        print(
            "note: this is a secret key with full access; a restricted key (rk_...) with read access"
            " is all attro stripe sync and backfill need (see the README)",
            file=sys.stderr,
        )
    if settings.stripe_api_key:
        print("note: ATTRO_STRIPE_API_KEY is set and takes precedence over the store", file=sys.stderr)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    try:
        stored = SecretStore(settings).load()
    except SecretStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if settings.webhook_secrets:
        print("note: ATTRO_STRIPE_WEBHOOK_SECRET is set; the receiver uses it, not this store")
    if settings.stripe_api_key:
        print("note: ATTRO_STRIPE_API_KEY is set; attro stripe uses it, not the stored API key")
    if not stored:
        print("no stored secrets (add one with `attro secrets set-stripe < file`)")
        return 0
    print(f"{'id':<14} {'added_at':<21} {'kind':<15} fingerprint")
    for entry in stored:
        kind = KIND_LABELS.get(entry.kind, "webhook secret")
        print(f"{entry.id:<14} {entry.added_at:<21} {kind:<15} {entry.fingerprint}")
    return 0


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    try:
        entry = SecretStore(settings).remove(args.id)
    except SecretStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    follows = "the stored Stripe API key" if entry.kind == STRIPE_API_KEY else None
    follows = follows or "a running receiver stops using it within 1 s"
    print(f"removed {entry.id} (fingerprint {entry.fingerprint}); {follows}")
    return 0


def _rekey(args: argparse.Namespace, settings: Settings) -> int:
    try:
        count, origin = SecretStore(settings).rekey()
    except SecretStoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    held = f"{count} secret{'' if count == 1 else 's'}"
    print(f"re-encrypted the secret store ({held}, read with {origin}) under ATTRO_MASTER_KEY's first key")
    rest = "; drop the other keys from ATTRO_MASTER_KEY" if len(settings.master_keys) > 1 else ""
    leftover = SecretStore(settings).key_path
    rest += f"; delete {leftover}" if leftover.exists() else ""
    if rest:
        print(f"once every attro process has the new ATTRO_MASTER_KEY{rest}")
    return 0


def add_secrets_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add `secrets {set-stripe,set-stripe-api-key,list,remove,rekey}`; each handler is called as
    func(args, settings)."""
    parser = subparsers.add_parser(
        "secrets", help="manage the Stripe webhook signing secrets and API key (encrypted)"
    )
    commands = parser.add_subparsers(dest="secrets_command", required=True)

    set_stripe = commands.add_parser(
        "set-stripe", help="store a signing secret read from stdin (never pass it as an argument)"
    )
    set_stripe.set_defaults(func=_set_stripe)

    set_api_key = commands.add_parser(
        "set-stripe-api-key",
        help="store the Stripe API key for `attro stripe` read from stdin (a restricted read-only key)",
    )
    set_api_key.set_defaults(func=_set_stripe_api_key)

    listing = commands.add_parser("list", help="id, added date, kind and fingerprint of each stored secret")
    listing.set_defaults(func=_list)

    remove = commands.add_parser("remove", help="delete a stored secret (a running receiver follows)")
    remove.add_argument("id", help="the id shown by `attro secrets list`")
    remove.set_defaults(func=_remove)

    rekey = commands.add_parser(
        "rekey",
        help="encrypt the store under ATTRO_MASTER_KEY's first key (from the key file, or to a new key)",
    )
    rekey.set_defaults(func=_rekey)
