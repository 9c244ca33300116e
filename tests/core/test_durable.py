"""Durable appends to the stores kept under state/ (review decisions, offer terms, code mappings)."""

from __future__ import annotations

from core.durable import append_lines


def test_lines_appended_after_a_torn_last_line_are_not_glued_onto_it(tmp_path) -> None:
    store = tmp_path / "state" / "store.jsonl"
    append_lines(store, ['{"a": 1}'])
    with store.open("a") as fh:
        fh.write('{"b": ')  # a crash mid-append

    append_lines(store, ['{"c": 3}', '{"d": 4}'])

    assert store.read_text().splitlines() == ['{"a": 1}', '{"b": ', '{"c": 3}', '{"d": 4}']
