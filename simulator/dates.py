"""Calendar arithmetic of simulated histories."""

from __future__ import annotations

import calendar
from datetime import datetime


def add_months(at: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months later (or earlier), clamped to the month's end,
    as Stripe bills a subscription started on the 31st."""
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))
