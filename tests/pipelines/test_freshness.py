"""What `attro run` and the sensor compare to know whether anything a run reads has changed."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipelines import freshness
from tests.pipelines.conftest import NOW as KIT_RUNS_AT

NOW = datetime(2026, 5, 19, 12, tzinfo=UTC)


def stat_each_file(root: Path) -> list[tuple[str, int, int, int]]:
    """The listing the fingerprint has always been made of (os.walk and a stat per file): a walk
    giving other entries would make every recorded fingerprint stale and rebuild once for nothing."""
    entries = []
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            try:
                st = path.stat()
            except FileNotFoundError:  # a link to nothing
                continue
            entries.append((str(path.relative_to(root)), st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return sorted(entries)


def test_the_walk_lists_every_file_below_the_root_as_a_stat_of_each_would(tmp_path: Path) -> None:
    root = tmp_path / "landing"
    for rel, body in [
        ("stripe_events/date=2026-05-18/a.ndjson", b"{}\n"),
        ("stripe_events/date=2026-05-19/b.ndjson", b"{}\n{}\n"),
        ("clicks/date=2026-05-19/c.ndjson", b""),
        ("top.txt", b"x"),
    ]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(body)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "outside.ndjson").write_bytes(b"{}\n")
    (root / "clicks" / "linked-folder").symlink_to(elsewhere)  # not followed, as before
    (root / "clicks" / "linked-file.ndjson").symlink_to(elsewhere / "outside.ndjson")  # listed
    (root / "clicks" / "dangling.ndjson").symlink_to(tmp_path / "gone")  # nothing to stat: left out

    listed = freshness._tree(root)

    assert listed == stat_each_file(root)
    assert [entry[0] for entry in listed] == [
        "clicks/date=2026-05-19/c.ndjson",
        "clicks/linked-file.ndjson",
        "stripe_events/date=2026-05-18/a.ndjson",
        "stripe_events/date=2026-05-19/b.ndjson",
        "top.txt",
    ]
    assert freshness._tree(tmp_path / "missing") == []
    assert freshness._tree(root / "top.txt") == []  # a file is no folder to walk


def test_the_fingerprint_changes_with_what_a_run_reads_and_only_that(kit) -> None:
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=1).bare_charge(kit.at, 100).events)
    before = freshness.fingerprint(settings, NOW)
    assert freshness.fingerprint(settings, NOW) == before

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    (settings.state_dir / "web_signing.key").write_bytes(b"k" * 32)  # `attro web` started: no run reads it
    assert freshness.fingerprint(settings, NOW) == before

    decisions = settings.state_dir / "review" / "decisions.ndjson"
    decisions.parent.mkdir(parents=True, exist_ok=True)
    decisions.write_bytes(b'{"flag_id": "f1"}\n')
    with_decision = freshness.fingerprint(settings, NOW)
    assert with_decision != before

    kit.landing(settings).click("jane-pro", kit.at)
    with_click = freshness.fingerprint(settings, NOW)
    assert with_click != with_decision
    assert freshness.fingerprint(settings, NOW.replace(day=20)) != with_click  # holding periods turn by day


def test_a_release_that_changes_the_rules_changes_the_fingerprint(kit, tmp_path: Path, monkeypatch) -> None:
    # Upgrade audit: the first `attro run` after upgrading said "nothing new" the same day (the
    # fingerprint held the inputs and the staging version, not the rules), and kept the old amounts.
    root = tmp_path / "release"
    for package in ("core", "models", "pipelines"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text('"""A package."""\n')
    rules = root / "models" / "commissions.py"
    rules.write_text("RATE = 20\n")
    before = freshness.source_signature(root)
    (root / "models" / "README.txt").write_text("not code")
    (root / "models" / ".#commissions.py").symlink_to("user@host.123:456")  # Emacs' lock: dangling
    assert freshness.source_signature(root) == before
    rules.write_text("RATE = 30\n")
    assert freshness.source_signature(root) != before

    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=1).bare_charge(kit.at, 100).events)
    old = freshness.fingerprint(settings, NOW)
    monkeypatch.setattr(freshness, "code_signature", lambda: "the next release")
    assert freshness.fingerprint(settings, NOW) != old
    assert freshness.inputs_signature(settings) != ""  # the sensor sees the new code too


def test_lines_landed_while_the_last_run_read_show_as_lag_though_it_published_after(kit) -> None:
    # Web audit: the health page compared the newest landing file with the warehouse file's time, which
    # is the publish: 5 webhooks landed during a run, not in its warehouse, read as "none: the
    # warehouse has everything landed".
    from web.health import health

    settings = kit.settings()
    landed = kit.landing(settings).events(kit.sim(seed=2).bare_charge(kit.at, 100).events)
    kit.run(settings)
    began = freshness.landing_read_from(settings)
    published = datetime.fromtimestamp(settings.warehouse_path.stat().st_mtime, UTC)
    assert began is not None and began <= published
    assert health(settings).landing_lag_seconds == 0

    during = began.timestamp() + 0.5  # a line appended after the run began reading, before it published
    os.utime(landed, (during, during))
    os.utime(settings.warehouse_path, (during + 3, during + 3))

    assert health(settings).landing_lag_seconds == pytest.approx(0.5, abs=0.01)


def test_the_landing_read_counts_from_the_raw_step_not_the_program_step_that_notes_the_build_again(
    kit, monkeypatch
) -> None:
    # Review: the program step noted the build again and moved `began_at` to its own time, so lines
    # landed while raw and staging ran read as published.
    from datetime import timedelta

    from pipelines import steps

    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=3).bare_charge(kit.at, 100).events)
    staged_at: list[datetime] = []
    stage = steps.stage

    def staging_then_a_pause(site):  # noqa: ANN001, ANN202 - the step's own signature
        metadata = stage(site)
        staged_at.append(datetime.now(UTC))
        return metadata

    monkeypatch.setattr(steps, "stage", staging_then_a_pause)
    monkeypatch.setattr(steps, "write_program", _after(steps.write_program, timedelta(seconds=0.05)))
    kit.run(settings)

    began = freshness.landing_read_from(settings)
    assert began is not None and staged_at and began < staged_at[0]


def _after(step, pause):  # noqa: ANN001, ANN202
    import time

    def later(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        time.sleep(pause.total_seconds())
        return step(*args, **kwargs)

    return later


def test_a_hand_edit_of_the_offer_terms_made_while_the_marts_were_built_is_the_next_runs(
    kit, monkeypatch
) -> None:
    # Review: the run recorded the terms file as it was at publish, so an edit made after the marts read
    # it (the README's typo fix, by an operator while a run went) was taken as already built.
    from pipelines import steps

    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=4).bare_charge(kit.at, 100).events)
    terms = settings.state_dir / "offer_terms.jsonl"
    build = steps.build_marts

    def build_then_an_edit(inputs):  # noqa: ANN001, ANN202
        marts = build(inputs)
        terms.write_text("".join(terms.read_text().splitlines(keepends=True)[1:]))  # one offer's line gone
        return marts

    monkeypatch.setattr(steps, "build_marts", build_then_an_edit)
    kit.run(settings)

    assert not freshness.unchanged(settings, freshness.fingerprint(settings, KIT_RUNS_AT))


def test_the_sensors_signature_stays_as_it_was_after_a_run_records_offer_terms(kit) -> None:
    # Review: with the recorded state in it, the first run, a run asked for by a hand edit and a failed
    # run that had recorded new terms each made the sensor ask for one more run at once.
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=5).bare_charge(kit.at, 100).events)
    before = freshness.inputs_signature(settings)
    kit.run(settings)  # records the demo offers' terms: its own writing
    assert freshness.inputs_signature(settings) == before
    terms = settings.state_dir / "offer_terms.jsonl"
    terms.write_text("".join(terms.read_text().splitlines(keepends=True)[1:]))
    assert freshness.inputs_signature(settings) == before  # the sensor sees it apart: freshness.hand_edit
    assert freshness.hand_edit(settings) != ""
