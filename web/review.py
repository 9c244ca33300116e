"""Decisions recorded on the review page (or with `attro review`) that the next run has yet to apply."""

from __future__ import annotations

import json
from typing import Any

from core.settings import Settings
from core.state.review_decisions import decisions_path


def recorded_decisions(settings: Settings) -> dict[str, dict[str, Any]]:
    """The latest recorded decision per flag id (the store is small: one line per decision taken)."""
    latest: dict[str, dict[str, Any]] = {}
    try:
        text = decisions_path(settings).read_text(encoding="utf-8")
    except OSError:
        return latest
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            latest[entry["flag_id"]] = entry
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line
    return latest
