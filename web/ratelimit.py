"""Login attempts per client address: 5 failures in 15 minutes and the address waits (429).

An attempt counts as a failure from the moment it starts (`attempt`) until its password is found
right (`succeeded`), so a burst of parallel guesses cannot all pass the check while the first ones are
still being verified."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
FAILURE_DELAY_SECONDS = 0.5  # every wrong password waits this long: guessing costs time even under the cap
_MAX_TRACKED = 10_000  # addresses remembered at most (oldest forgotten first): memory stays bounded


@dataclass
class LoginLimiter:
    max_failures: int = MAX_FAILURES
    window_seconds: float = WINDOW_SECONDS
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, address: str, now: float | None = None) -> int:
        """Start a sign-in from `address`: 0 and it counts as a failure until `succeeded`, or the
        seconds until the address may try again (nothing counted)."""
        at = time.monotonic() if now is None else now
        with self._lock:
            failures = self._recent(address, at)
            if len(failures) >= self.max_failures:
                return max(1, int(failures[0] + self.window_seconds - at) + 1)
            failures.append(at)
            self._failures[address] = self._failures.pop(address)  # most recent last
            while len(self._failures) > _MAX_TRACKED:
                self._failures.pop(next(iter(self._failures)))
            return 0

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str, at: float) -> deque[float]:
        failures = self._failures.setdefault(address, deque())
        while failures and failures[0] <= at - self.window_seconds:
            failures.popleft()
        return failures
