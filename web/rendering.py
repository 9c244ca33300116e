"""Templates (Jinja2, autoescaped: program and event text always renders as text) and their filters."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi.templating import Jinja2Templates

from models.money import format_minor

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
    filters: dict[str, Any] = {"money": money, "when": when, "duration": duration}
    env.filters.update(filters)
    env.globals["static_url"] = static_url
    return Jinja2Templates(env=env)
