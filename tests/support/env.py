"""Environments for tests of settings and commands: exactly the ATTRO_* variables a test names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

ATTRO_BIN = Path(sys.executable).with_name("attro")  # the console script the project installs


def clean_environ(**attro: str) -> dict[str, str]:
    """os.environ without any ATTRO_* variable or DAGSTER_HOME, plus `attro` as ATTRO_<NAME>."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATTRO_") and k != "DAGSTER_HOME"}
    env.update({f"ATTRO_{name.upper()}": value for name, value in attro.items()})
    return env


def run_attro(
    *args: str, cwd: Path = REPO, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`attro ARGS` as a user runs it: its own process, output captured as text."""
    return subprocess.run(
        [str(ATTRO_BIN), *args],
        cwd=cwd,
        env=env if env is not None else clean_environ(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
