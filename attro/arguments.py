"""Argument types the commands share: a bad value is refused by argparse in one line, exit 2."""

from __future__ import annotations

import argparse
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
