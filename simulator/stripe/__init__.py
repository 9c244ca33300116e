"""A Stripe simulator: realistic webhook events on real Stripe payload shapes, signed as Stripe signs them."""

from simulator.stripe.flows import Flow, StripeSim
from simulator.stripe.payloads import BASIL, LEGACY, Event, Subscription, is_basil
from simulator.stripe.signing import deliveries, encode, sign_header, signed_request

__all__ = [
    "BASIL",
    "LEGACY",
    "Event",
    "Flow",
    "StripeSim",
    "Subscription",
    "deliveries",
    "encode",
    "is_basil",
    "sign_header",
    "signed_request",
]
