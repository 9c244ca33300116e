"""Templates (Jinja2, autoescaped: program and event text always renders as text) and their filters."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates

from models.money import format_minor
from models.risk import REJECTED_IN_REVIEW
from web.reasons import no_commission

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@cache
def static_url(name: str) -> str:
    """`/static/<name>?v=<its content's hash>`: a browser keeps the file until the code changes it
    (web.app serves versioned files to be cached for a year), so no page waits on a stylesheet."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return f"/static/{name}?v={digest}"


def money(amount_minor: int | None, currency: str | None) -> str:
    if amount_minor is None or currency is None:
        return "—"
    return f"{format_minor(int(amount_minor), currency)} {currency.upper()}"


# Where a ledger line's rule (models/commissions.py, money_back.py, closed_periods.py) names money: the
# warehouse keeps minor units, as every amount there; the pages show them with the currency's decimals.
# An amount and the currency it is in ("9900 usd"; "tax" is the only other word a rule puts after a
# number, in "(excl. 1000 tax)": that amount is in the line's currency, converted below).
_AMOUNT_AND_CURRENCY = re.compile(r"(?<![\w.])(-?\d+) (?!tax\b)([a-z]{3})\b")
_AMOUNTS_IN = (
    re.compile(r"(?<![\w.])(-?\d+) of (-?\d+) taken back so far, so (-?\d+) of the (-?\d+) commission"),
    re.compile(r"\((?:excl\.|capped at) (-?\d+)[ )]"),
    re.compile(r"\(frozen (-?\d+), "),
)


def rule_text(rule: str | None, currency: str | None) -> str:
    """A ledger line's rule with its amounts in the major unit: `20% of 9900 usd` → `20% of 99.00 usd`,
    `refund 4300 usd: 4300 of 12900 taken back so far, so 430 of the 1290 commission` with decimals
    throughout; counts, percentages and payment numbers as they are."""
    if not rule or not currency:
        return rule or ""
    rule, note, said = rule.partition(REJECTED_IN_REVIEW)  # the reviewer's words stay as written
    cur = currency.lower()
    shown = _AMOUNT_AND_CURRENCY.sub(lambda m: f"{format_minor(int(m[1]), m[2])} {m[2]}", rule)

    def decimals(match: re.Match[str]) -> str:
        text, start = match[0], match.start()
        for group in range(len(match.groups()), 0, -1):  # from the right: positions stay valid
            begin, end = match.span(group)
            text = text[: begin - start] + format_minor(int(match[group]), cur) + text[end - start :]
        return text

    for pattern in _AMOUNTS_IN:
        shown = pattern.sub(decimals, shown)
    return shown + note + said


def when(at: datetime | date | None) -> str:
    if at is None:
        return "—"
    if isinstance(at, datetime):  # UTC, as the pages say (an aware time from another zone is converted)
        return (at.astimezone(UTC) if at.tzinfo else at).strftime("%Y-%m-%d %H:%M")
    return at.isoformat()


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}" + (f" {seconds % size // 60} min" if unit == "h" else "")
    return f"{seconds} s"


def templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Any] = {
        "money": money,
        "when": when,
        "duration": duration,
        "rule_text": rule_text,
        "no_commission": no_commission,
    }
    env.filters.update(filters)
    env.globals["static_url"] = static_url
    return Jinja2Templates(env=env)
