"""Talking to Stripe's API with the official library: the client, resumable listing, one-line errors.

The library retries connection errors, 409s and 5xx itself (`max_network_retries`, exponential
backoff) and a 429 only when Stripe marks it retryable; `list_objects` also waits out any other 429
(its Retry-After, else backoff) and goes on after the last object it received, so a rate limit never
restarts a listing. Any failure becomes a `StripeApiError` whose message is one line and never holds
the API key.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import stripe

from core.secrets import SecretStoreError, stripe_api_key
from core.settings import Settings
from pipelines.sources.stripe_api.settings import (
    MAX_NETWORK_RETRIES,
    MAX_RATE_LIMIT_WAITS,
    MAX_RETRY_AFTER_SECONDS,
    PAGE_SIZE,
)

StripeObject = dict[str, Any]
ListCall = Callable[[dict[str, Any]], Any]  # params → the library's ListObject


class StripeApiError(RuntimeError):
    """Reading from Stripe failed; the message says why in one line, without the key. `status` is
    Stripe's HTTP status when it answered (401: the key was rejected)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def key_problem(self) -> bool:
        """The key is wrong, revoked or lacks a permission: nothing to retry until it is fixed."""
        return self.status in (401, 403)


class NoApiKey(StripeApiError):
    """No API key is configured (sync and backfill are off until one is)."""

    @property
    def key_problem(self) -> bool:
        return True


NO_KEY = "no Stripe API key: set ATTRO_STRIPE_API_KEY or store one with `attro secrets set-stripe-api-key`"


@dataclass(frozen=True)
class StripeApi:
    """The library's client, and the key no message may show."""

    client: stripe.StripeClient
    key: str = field(repr=False)

    @property
    def livemode(self) -> bool:
        """A live key reads live objects, a test key test ones."""
        return "_live_" in self.key

    def list_call(self, service: str) -> ListCall:
        """The `list` method of a v1 service named by its attribute path (e.g. "checkout.sessions")."""
        owner = reduce(getattr, service.split("."), self.client.v1)
        return owner.list  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def errors(self, what: str) -> Iterator[None]:
        """Turn the library's errors inside the block into a one-line StripeApiError."""
        try:
            yield
        except stripe.StripeError as exc:
            status = 401 if isinstance(exc, stripe.AuthenticationError) else exc.http_status
            raise StripeApiError(describe(exc, self.key, what), status) from None


def connect(settings: Settings) -> StripeApi:
    """A client with the configured key and API address; NoApiKey when there is no key."""
    try:
        key = stripe_api_key(settings)
    except SecretStoreError as exc:
        raise StripeApiError(f"cannot read the Stripe API key: {exc}") from None
    if not key:
        raise NoApiKey(NO_KEY)
    client = stripe.StripeClient(
        key,
        base_addresses={"api": settings.stripe_api_base.rstrip("/")},
        max_network_retries=MAX_NETWORK_RETRIES,
    )
    return StripeApi(client, key)


def _retry_after(error: stripe.RateLimitError, attempt: int) -> float:
    """Seconds to wait after a 429: Stripe's Retry-After when it sends one, else exponential backoff."""
    headers = {k.lower(): v for k, v in (error.headers or {}).items()}
    try:
        return min(max(float(headers["retry-after"]), 0.0), MAX_RETRY_AFTER_SECONDS)
    except (KeyError, ValueError):
        return min(0.5 * 2**attempt, MAX_RETRY_AFTER_SECONDS)


def list_objects(
    call: ListCall, params: Mapping[str, Any], *, sleep: Callable[[float], None] = time.sleep
) -> Iterator[StripeObject]:
    """Every object of a Stripe list (newest first, as Stripe lists them), as plain JSON dicts, through
    the library's auto-pagination. A 429 is waited out and the listing goes on after the last object
    received; after MAX_RATE_LIMIT_WAITS in a row the RateLimitError is raised."""
    last_id: str | None = None
    waits = 0
    while True:
        page_params = {"limit": PAGE_SIZE, **params}
        if last_id is not None:
            page_params["starting_after"] = last_id
        try:
            for item in call(page_params).auto_paging_iter():
                waits = 0
                last_id = item["id"]
                yield item.to_dict(for_json=True)
            return
        except stripe.RateLimitError as exc:
            waits += 1
            if waits > MAX_RATE_LIMIT_WAITS:
                raise
            sleep(_retry_after(exc, waits))


def _message(error: stripe.StripeError, secret: str | None) -> str:
    text = " ".join((error.user_message or str(error) or type(error).__name__).split())
    return text.replace(secret, "[the key]") if secret else text


_ERRNO = re.compile(r"\[Errno -?\d+\][^\"')]*")
_NETWORK_ERROR = re.compile(r"\(Network error: (.*)\)$")


def _network_cause(message: str) -> str:
    """The network's own words from stripe's connection error, without its request URL (every listed
    event type) and its advice to write to Stripe's support (the address may be ours, not Stripe's)."""
    if found := _ERRNO.search(message):  # e.g. [Errno 111] Connection refused
        cause = found.group(0).strip()
    elif found := _NETWORK_ERROR.search(message):
        cause = found.group(1)[:200]
    else:
        return message
    return f"{cause} (check ATTRO_STRIPE_API_BASE and the network)"


def describe(error: stripe.StripeError, secret: str | None, what: str) -> str:
    """One line saying why reading `what` failed."""
    message = _message(error, secret)
    status = error.http_status
    if isinstance(error, stripe.AuthenticationError):
        return f"Stripe rejected the API key ({status or 401}): {message}"
    if isinstance(error, stripe.PermissionError) or "permission" in message.lower():
        return (
            f"the Stripe API key may not read {what} ({status}): {message}"
            " (give the restricted key Read access to it, see the README)"
        )
    if isinstance(error, stripe.RateLimitError):
        return f"Stripe kept answering 429 (rate limited) while listing {what}: {message}"
    if isinstance(error, stripe.APIConnectionError):
        return f"cannot reach Stripe's API while listing {what}: {_network_cause(message)}"
    return f"Stripe answered {status or 'an error'} while listing {what}: {message}"
