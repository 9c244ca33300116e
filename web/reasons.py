"""Why a payment went to no affiliate, and what to do about it: the README's "my sale is missing",
one answer per `marts.unattributed_payments.reason`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reason:
    title: str
    why: str
    what_to_do: str


REASONS: dict[str, Reason] = {
    "no_click_id": Reason(
        "No click id",
        "The payment carried no rd_click_id (metadata, client_reference_id or the subscription's "
        "metadata), no promotion code of an affiliate, and the customer had no earlier attributed "
        "purchase or sign-up.",
        "Most are sales nobody referred. If an affiliate says otherwise, check that your checkout "
        "passes the rd_click_id cookie into Stripe (README: Passing the click id into Stripe); a "
        "Payment Link needs client_reference_id appended to its URL.",
    ),
    "unknown_click": Reason(
        "Unknown click",
        "The payment named a click id this program never issued (not in our format, or no such "
        "click landed).",
        "A click id from another system or a test, or the click was never landed: if it came from "
        "edge logs, import it with POST /api/clicks and the next run attributes the payment.",
    ),
    "bot_click": Reason(
        "Click by a bot",
        "The click behind the payment was judged a bot (its user agent), and bots earn nothing.",
        "If a real customer's browser was taken for a bot, the user agent in marts.clicks says why; "
        "report it with that user agent.",
    ),
    "click_expired": Reason(
        "Click too old",
        "The click came before the offer's attribution window (attribution_window_days) before the "
        "purchase started.",
        "Working as configured. A longer window in the program file applies on the next run.",
    ),
    "click_after_payment": Reason(
        "Click after the purchase",
        "The click was made after the purchase had started: it cannot have brought the sale.",
        "Usually a customer clicking a link again after buying. Nothing to do.",
    ),
    "unknown_offer": Reason(
        "Unknown offer",
        "The click's offer is not in the program file any more.",
        "Put the offer back (or map the link to another offer) and run again.",
    ),
    "code_outside_validity": Reason(
        "Code used outside its dates",
        "The sale used an affiliate's promotion code before valid_from or after valid_until.",
        "Widen the code's valid_from / valid_until in [[codes]] if the sale should count.",
    ),
    "unknown_affiliate": Reason(
        "Code of an unknown affiliate",
        "The sale used a promotion code whose own Stripe metadata (rd_affiliate) names an affiliate "
        "the program file does not list.",
        "Add the affiliate to the program file (or correct the code's rd_affiliate in Stripe, or map "
        "the code in [[codes]]) and run again.",
    ),
    "lead_expired": Reason(
        "Sign-up too long ago",
        "The customer signed up with a click id (a lead), but paid more than lead_window_days later.",
        "Working as configured; raise lead_window_days in the program file to count later payments.",
    ),
    "lead_click_expired": Reason(
        "Sign-up's click too old",
        "The customer signed up with a click id older than the offer's attribution window.",
        "Working as configured; a longer attribution_window_days applies on the next run.",
    ),
    "lead_unknown_click": Reason(
        "Sign-up with an unknown click",
        "The customer signed up with a click id this program never issued.",
        "Check what your sign-up form copies into the customer's metadata.rd_click_id.",
    ),
    "lead_bot_click": Reason(
        "Sign-up through a bot's click",
        "The click the customer signed up with was judged a bot.",
        "See bot_click.",
    ),
    "lead_click_after_lead": Reason(
        "Click after the sign-up",
        "The click the customer carried was made after they signed up.",
        "Nothing to do: a click after signing up did not bring the customer.",
    ),
}


def explain(reason: str) -> Reason:
    return REASONS.get(
        reason,
        Reason(reason, "A reason this page does not describe yet.", "See docs/rules.md (Attribution)."),
    )


# Why an attributed payment earned nothing (`marts.conversions.not_commissionable_reason`), in the
# words an affiliate reads on the portal; an unknown code shows as it is.
NOT_COMMISSIONABLE = {
    "test_mode": "a test payment (never payable)",
    "outside_recurring_period": "after the offer's commission period",
    "currency_mismatch": "paid in a currency the offer's flat amount is not in",
    "customer_cap_reached": "the commission cap for this customer is reached",
    "zero_commission": "no commission at this amount",
    "unknown_offer": "the offer is no longer in the program",
    "affiliate_banned": "after the account was closed",
}


def no_commission(reason: str | None) -> str:
    return NOT_COMMISSIONABLE.get(reason or "", reason or "none")
