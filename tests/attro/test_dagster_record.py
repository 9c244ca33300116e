"""Runs the CLI makes outside Dagster are recorded in the Dagster instance at $DAGSTER_HOME, and only then."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from attro.cli import main
from tests.support.env import clean_environ
from tests.support.paths import REPO


@pytest.fixture
def cli_site(base_site: Any, copy_site: Callable, attro_env: Callable[..., None]) -> Any:
    """A copy of the base site, named by ATTRO_DATA_DIR / ATTRO_PROGRAM as a user would."""
    site = copy_site(base_site)
    attro_env(data_dir=str(site.settings.data_dir), program=str(site.settings.program_path))
    return site


@pytest.fixture
def dagster_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def materializations(home: Path, path: str) -> list[dg.AssetMaterialization]:
    """The asset's materializations recorded in the instance at `home`, newest first."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        records = instance.fetch_materializations(dg.AssetKey(path.split("/")), limit=10).records
    return [record.asset_materialization for record in records if record.asset_materialization]


def test_attro_run_records_each_asset_it_built_with_its_metadata(
    cli_site: Any, dagster_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--force"]) == 0

    [payments] = materializations(dagster_home, "marts/payments")
    (rows,) = cli_site.query("select count(*) from marts.payments")[0]
    assert payments.metadata["rows"] == dg.IntMetadataValue(rows)
    assert payments.description == "attro run (outside Dagster)"
    [events] = materializations(dagster_home, "raw/stripe_events")
    assert "new_events" in events.metadata
    assert materializations(dagster_home, "warehouse/snapshot")
    said = re.search(
        r"recorded (\d+) asset materializations in Dagster \(DAGSTER_HOME=", capsys.readouterr().out
    )
    assert said, "attro run does not say what it recorded"
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        recorded = [
            key for key in instance.get_asset_keys() if instance.get_latest_materialization_event(key)
        ]
    assert int(said[1]) == len(recorded)


def test_close_period_records_both_of_its_runs(cli_site: Any, dagster_home: Path) -> None:
    assert main(["close-period", "2026-01"]) == 0

    descriptions = [m.description for m in materializations(dagster_home, "marts/affiliate_statements")]
    assert descriptions == [
        "attro close-period 2026-01 (outside Dagster)",
        "attro close-period 2026-01 (before closing) (outside Dagster)",
    ]


def test_a_run_with_nothing_new_records_nothing(cli_site: Any, dagster_home: Path) -> None:
    assert main(["run"]) == 0
    assert main(["run"]) == 0  # nothing new since: nothing built

    assert len(materializations(dagster_home, "marts/payments")) == 1


def test_an_unusable_dagster_home_is_a_warning_and_the_run_still_succeeds(
    cli_site: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", "dagster_home")  # Dagster wants an absolute path

    assert main(["run", "--force"]) == 0

    err = capsys.readouterr().err
    assert err.startswith("warning: the run is not recorded in Dagster (DAGSTER_HOME=dagster_home): ")
    assert len(err.splitlines()) == 1


def test_a_plain_attro_run_never_imports_dagster(base_site: Any, copy_site: Callable) -> None:
    site = copy_site(base_site)
    script = (
        "import sys; from attro.cli import main; main(['run', '--force']); print('dagster' in sys.modules)"
    )
    env = clean_environ(data_dir=str(site.settings.data_dir), program=str(site.settings.program_path))

    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "False"


RECORDING = """
import gc
from attro.dagster_record import record_in_dagster
before = gc.get_freeze_count()
record_in_dagster({"marts/payments": {"rows": 1}}, "a test")
print(before, gc.get_freeze_count(), gc.isenabled())
"""


def test_recording_leaves_dagsters_objects_out_of_the_collector(dagster_home: Path) -> None:
    # Importing Dagster and opening its instance leaves ~190k objects; unsettled, the interpreter's exit
    # walked them all (0.4-0.7 s after every recorded run)
    env = clean_environ() | {"DAGSTER_HOME": str(dagster_home)}

    done = subprocess.run(
        [sys.executable, "-c", RECORDING], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stderr[-2000:]
    said, counts = done.stdout.splitlines()[0], done.stdout.splitlines()[-1].split()
    assert said.startswith("recorded 1 asset materializations in Dagster")
    before, after, collector_on = int(counts[0]), int(counts[1]), counts[2]
    assert after - before > 100_000
    assert collector_on == "True"
