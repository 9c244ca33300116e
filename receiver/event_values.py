"""The values of a verified Stripe event the models read: times and amounts that are integers in range.

A signed event of a type the rules consume is landed only if every field staging turns into a
timestamp or an integer (core/stripe_fields.py: its `time`, `int` and `sum` fields) can be one. Only
those few fields are looked at, not the whole payload: this runs in the events lander for every
webhook. A field that is absent or null is left to the models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.stripe_fields import AMOUNT_LIMIT, CONSUMED_EVENTS, INT, STRIPE_OBJECT_FIELDS, SUM, TIME

# 2009-01-01T00:00:00Z: before Stripe existed, so no event or object of it was created earlier.
EARLIEST_AT = 1_230_768_000
# Stripe stamps a time before it sends it; its clock and ours differ by seconds, not a day. A day
# leaves room for a wrong clock on our side without letting a far-future time through.
MAX_AHEAD_SECONDS = 86_400

# Paths under `data.object` as staging reads them; `[]` is every list item.
TIMES: tuple[str, ...] = tuple(
    path.replace("[*]", "[]") for path, kind in STRIPE_OBJECT_FIELDS.values() if kind == TIME
)
AMOUNTS: tuple[str, ...] = tuple(
    path.replace("[*]", "[]") for path, kind in STRIPE_OBJECT_FIELDS.values() if kind in (INT, SUM)
)


def _containers() -> dict[str, type]:
    """Every object or list on the way to a field staging reads → the Python type it must be."""
    kinds: dict[str, type] = {}
    for path, _kind in STRIPE_OBJECT_FIELDS.values():
        parts = path.split(".")
        for depth in range(1, len(parts) + 1):
            step = parts[depth - 1]
            if step.endswith("[*]"):
                kinds[".".join([*parts[: depth - 1], step[:-3]])] = list
                break
            if depth < len(parts):
                kinds[".".join(parts[:depth])] = dict
    return kinds


# Containers staging reads through: one of the wrong JSON type (metadata as a list) would read as
# absent there, so it is refused here, where the event is already parsed.
CONTAINERS = _containers()


def _container_problem(obj: dict[str, Any]) -> str | None:
    for path, expected in CONTAINERS.items():
        node: Any = obj
        for step in path.split("."):
            node = node.get(step) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, expected):
            wanted = "an object" if expected is dict else "a list"
            return f"'data.object.{path}' must be {wanted}"
    return None


def event_value_problem(event: dict[str, Any], received_at: float) -> str | None:
    """None when the event's time and its object's times and amounts are usable, else the first problem.

    `event` has passed `event_shape_problem` (an integer `created`, a dict `data.object`);
    `received_at` is when the delivery arrived (Unix seconds).
    """
    latest = received_at + MAX_AHEAD_SECONDS

    def time_problem(value: Any) -> str | None:
        return _time_problem(value, latest)

    problem = time_problem(event["created"])
    if problem:
        return f"'created' {problem}"
    if event.get("type") not in CONSUMED_EVENTS:
        return None  # kept whole in raw, never decoded
    obj = event["data"]["object"]
    if problem := _container_problem(obj):
        return problem
    checks: list[tuple[str, Callable[[Any], str | None]]] = [
        *((path, time_problem) for path in TIMES),
        *((path, _amount_problem) for path in AMOUNTS),
    ]
    for path, check in checks:
        for where, value in _values_at(obj, path):
            problem = check(value)
            if problem:
                return f"'data.object.{where}' {problem}"
    return None


def _values_at(obj: Any, path: str) -> list[tuple[str, Any]]:
    """(where, value) for each value at `path` ("a.b", "a[].b"); a missing step or a wrong container
    type yields nothing (the models read that as null, or quarantine the event)."""
    found: list[tuple[str, Any]] = [("", obj)]
    for step in path.split("."):
        name, is_list = step.removesuffix("[]"), step.endswith("[]")
        deeper: list[tuple[str, Any]] = []
        for where, value in found:
            if not isinstance(value, dict) or value.get(name) is None:
                continue
            where, value = f"{where}.{name}" if where else name, value[name]
            if not is_list:
                deeper.append((where, value))
            elif isinstance(value, list):
                deeper.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        found = deeper
    return found


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _time_problem(value: Any, latest: float) -> str | None:
    if not _is_int(value):
        return "must be an integer Unix timestamp"
    if value < EARLIEST_AT:
        return "is before 2009-01-01, before any Stripe event"
    if value > latest:
        return "is more than a day after the delivery arrived"
    return None


def _amount_problem(value: Any) -> str | None:
    if not _is_int(value):
        return "must be an integer amount in minor units"
    if not -AMOUNT_LIMIT < value < AMOUNT_LIMIT:
        return "is out of range (an amount must be below 10**12 minor units either way)"
    return None
