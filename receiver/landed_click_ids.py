"""The click ids this receiver process landed and the link of each: a re-sent click or a conflict.

`POST /api/clicks` looks a supplied `click_id` up here: landed before with the same link, the record is
a retry (answered as a duplicate, not landed twice); with another link, it is refused. The memory is
this process's own, since it started, for the most recent `capacity` ids (redirects and API alike):
not other `--workers` processes, not before a restart. Beyond that the pipeline keeps one row per
click id (marts.clicks: the copy landed first, by `received_at`), so an undetected repeat is never
counted twice.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

# About 165 bytes an id (the id string, a dict slot, a deque slot; link codes are shared): ~40 MB once
# full. Retries come within minutes and edge logs within days; a day of 3 clicks a second fits.
DEFAULT_CAPACITY = 250_000


class LandedClickIds:
    """click id → link code of the ids landed most recently, oldest forgotten first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._links: dict[str, str] = {}
        self._order: deque[str] = deque()
        # Check and land one API batch at a time, so two batches carrying the same id cannot both
        # find it new. Redirects do not take it: their ids are new, nobody can send them first.
        self.lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self._links)

    def link_of(self, click_id: str) -> str | None:
        """The link code `click_id` was landed with, None when it is not remembered."""
        return self._links.get(click_id)

    def remember(self, landed: Iterable[tuple[str, str]]) -> None:
        """Note landed (click id, link code) pairs; the oldest are forgotten beyond `capacity`."""
        links, order = self._links, self._order
        for click_id, link_code in landed:
            if click_id not in links:
                order.append(click_id)
            links[click_id] = link_code
        while len(order) > self.capacity:
            del links[order.popleft()]
