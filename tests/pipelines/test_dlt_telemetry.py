"""dlt's anonymous telemetry stays off: a merchant's runs never post to dlt's servers unless the
environment turns it on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# what a process shows after importing the pipeline's dlt code (the loader, the backfill, Dagster's)
PROBE = """
import pipelines.lib.loading, pipelines.stripe_backfill, pipelines.definitions
from dlt.common.runtime import anon_tracker
print(anon_tracker._ANON_TRACKER_ENDPOINT)
"""


def _telemetry_endpoint(setting: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "RUNTIME__DLTHUB_TELEMETRY"}
    if setting is not None:
        env["RUNTIME__DLTHUB_TELEMETRY"] = setting
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.strip().splitlines()[-1]


def test_dlt_telemetry_is_off_by_default() -> None:
    assert _telemetry_endpoint(None) == "None"


@pytest.mark.parametrize(("setting", "on"), [("false", False), ("true", True)])
def test_the_environment_still_decides(setting: str, on: bool) -> None:
    assert (_telemetry_endpoint(setting) != "None") is on
