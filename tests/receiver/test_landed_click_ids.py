"""The click ids a receiver process remembers having landed: link per id, oldest forgotten first."""

from __future__ import annotations

from receiver.landed_click_ids import LandedClickIds


def test_remembers_the_link_of_each_landed_id_and_forgets_the_oldest_beyond_capacity():
    landed = LandedClickIds(capacity=3)

    landed.remember([("A", "jane-pro"), ("B", "omar-all")])
    landed.remember([("A", "jane-pro"), ("C", "jane-pro"), ("D", "omar-all")])

    assert len(landed) == 3
    assert landed.link_of("A") is None  # the oldest went first, once a fourth id came
    assert [landed.link_of(i) for i in "BCD"] == ["omar-all", "jane-pro", "omar-all"]
    assert landed.link_of("E") is None
