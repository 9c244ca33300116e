"""Staging a raw load: in one pass when every event decodes, and never a staging file without the
quarantined rows of its load."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from core.settings import Settings
from pipelines.lake import Lake
from pipelines.staging import stage
from pipelines.staging.stage import OBJECTS, REJECTED, stage_new
from pipelines.steps import load_raw


def _land(kit, settings: Settings, poisoned: bool) -> set[str]:
    """A few payments landed and loaded into raw; with `poisoned`, one charge's amount is no integer.
    The ids of the events staging should keep."""
    sim = kit.sim(seed=7)
    events = [
        *sim.one_time_checkout(kit.at, 2500).events,
        *sim.bare_charge(kit.at + timedelta(hours=1), 1200).events,
    ]
    keep = {event["id"] for event in events}
    if poisoned:
        bad = copy.deepcopy(next(e for e in events if e["type"] == "charge.succeeded"))
        bad["id"] = "evt_amount_is_text"
        bad["data"]["object"]["amount"] = "twelve"
        events.append(bad)
    kit.landing(settings).events(events)
    load_raw(settings)
    return keep


def _not_by_table(*_args: object) -> None:
    raise AssertionError("decoded through a table")


def test_a_load_whose_every_event_decodes_is_staged_in_one_pass(kit, monkeypatch) -> None:
    settings = kit.settings()
    keep = _land(kit, settings, poisoned=False)
    monkeypatch.setattr(stage, "_decode", _not_by_table)

    stats = stage_new(settings)

    lake = Lake(settings.lake_dir)
    staged = lake.staging(OBJECTS).read({"event_id": str})["event_id"].to_list()
    assert stats["events_staged"] == len(staged) > 0
    assert set(staged) <= keep and stats["events_quarantined"] == 0
    assert lake.staging(REJECTED).paths() == []


def test_a_load_with_an_event_to_quarantine_is_staged_with_its_rejects_or_not_at_all(
    kit, monkeypatch
) -> None:
    settings = kit.settings()
    keep = _land(kit, settings, poisoned=True)
    lake = Lake(settings.lake_dir)
    raw_load = lake.raw("stripe_events").current()[0].first_load

    # the one-pass file holds every event but the poisoned one: it must not be kept on its own
    monkeypatch.setattr(stage, "_decode", _not_by_table)
    with pytest.raises(AssertionError, match="through a table"):
        stage_new(settings)
    assert not lake.staging(OBJECTS).covers(raw_load)
    assert lake.staging(OBJECTS).paths() == [] and lake.staging(REJECTED).paths() == []

    monkeypatch.undo()
    stats = stage_new(settings)

    staged = set(lake.staging(OBJECTS).read({"event_id": str})["event_id"].to_list())
    rejected = lake.staging(REJECTED).read({"event_id": str, "reason": str}).rows()
    assert stats["events_quarantined"] == 1 and stats["events_staged"] == len(staged)
    assert staged <= keep and "evt_amount_is_text" not in staged
    assert [event_id for event_id, _ in rejected] == ["evt_amount_is_text"]
    assert 'data.object.amount is "twelve", not an integer' in rejected[0][1]
