"""Durable appends to the stores kept under state/ (review decisions, offer terms, code mappings), and
key files made once, whole, by whichever process comes first."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.durable import append_lines
from core.settings import Settings
from web.keys import signing_key


def test_lines_appended_after_a_torn_last_line_are_not_glued_onto_it(tmp_path) -> None:
    store = tmp_path / "state" / "store.jsonl"
    append_lines(store, ['{"a": 1}'])
    with store.open("a") as fh:
        fh.write('{"b": ')  # a crash mid-append

    append_lines(store, ['{"c": 3}', '{"d": 4}'])

    assert store.read_text().splitlines() == ['{"a": 1}', '{"b": ', '{"c": 3}', '{"d": 4}']


def _web_key(state_dir: str) -> str:
    return signing_key(SimpleNamespace(state_dir=Path(state_dir)))  # type: ignore[arg-type]


def _ip_salt(data_dir: str) -> str:
    return Settings(data_dir=Path(data_dir), ip_hash_salt=None).ip_salt.decode()


def _together(target, folder: str, started, results, index: int) -> None:
    started.wait()
    try:
        results[index] = target(folder)
    except Exception as exc:  # the loser of the race read a file still empty
        results[index] = f"error: {exc}"


@pytest.mark.parametrize("target", [_web_key, _ip_salt], ids=["web signing key", "ip hash salt"])
def test_processes_making_a_key_file_at_once_all_read_the_one_made_first(tmp_path, target) -> None:
    # Audit: the file was created empty and then written, so a process that lost the race read it
    # empty: `attro portal link` beside `attro web` crashed, and a receiver worker hashed IPs unsalted
    # (about half of 60 tries with three processes failed).
    context = multiprocessing.get_context("fork")
    for attempt in range(25):
        folder = tmp_path / str(attempt)
        started, results = context.Barrier(3), context.Manager().dict()
        processes = [
            context.Process(target=_together, args=(target, str(folder), started, results, i))
            for i in range(3)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(30)
        values = set(results.values())
        assert len(values) == 1 and len(values.pop()) == 64, results
        made = list(folder.rglob("*"))
        assert [p.name for p in made if p.is_file()] in (["web_signing.key"], ["ip_hash_salt"])  # no temp
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in made if p.is_file())


def test_a_key_file_is_made_on_a_filesystem_without_hard_links(tmp_path, monkeypatch) -> None:
    # Review: vfat, exFAT and some network shares answer EPERM to link(): no key could be made at all.
    def no_links(*_args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr("core.durable.os.link", no_links)
    key = _web_key(str(tmp_path / "state"))

    assert len(key) == 64 and _web_key(str(tmp_path / "state")) == key
    assert [p.name for p in (tmp_path / "state").iterdir()] == ["web_signing.key"]
