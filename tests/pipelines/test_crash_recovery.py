"""Every crash of a run is recovered by the next run, with no human step, and the next run loads
everything landed so far: a real `attro run` process killed -9 inside dlt's extract, normalize and
load, while staging, and just before publishing."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.crash import POINTS
from tests.support.paths import REPO


@pytest.mark.parametrize("point", POINTS)
def test_a_run_killed_at_any_point_is_recovered_by_the_next_one(point: str, full_run, scenario, kit) -> None:
    settings = kit.settings(f"crash-{point}")
    scenario.write(settings, 0.5)  # history loaded by an earlier run
    kit.run(settings)
    scenario.write(settings)  # then the rest lands, and the run that loads it is killed

    killed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crash",
            point,
            str(settings.data_dir),
            str(settings.program_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert killed.returncode == -9, f"the kill at {point} was not reached: {killed.stderr[-2000:]}"

    kit.run(settings, force=False)  # what the sensor or the next `attro run` does: nothing by hand

    assert kit.tables(settings.warehouse_path) == full_run.tables  # the same as one clean run
    leftovers = [
        p.relative_to(settings.data_dir)
        for p in settings.data_dir.rglob("*")
        if p.name.endswith(".tmp") or p.name.startswith("next.duckdb") or p.name == "duckdb-tmp"
    ]
    assert leftovers == []
