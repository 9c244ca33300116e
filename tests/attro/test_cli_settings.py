"""Every `attro` command refuses a bad ATTRO_* value in one line with exit code 2; `attro --version`;
the program file found in the data dir wherever the command runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import pytest
import uvicorn

from attro.cli import main
from tests.support.env import clean_environ, run_attro
from tests.support.paths import DEMO_PROGRAM, REPO

COMMANDS = [
    ["serve"],
    ["run"],
    ["demo"],
    ["export", "commissions", "--period", "2026-01"],
    ["close-period", "2026-01"],
    ["secrets", "list"],
    ["secrets", "set-stripe"],
    ["secrets", "remove", "sec_0000"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_refuses_a_bad_setting_in_one_line_before_doing_anything(
    attro_env: Callable[..., None],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    command: list[str],
) -> None:
    attro_env(data_dir=str(tmp_path / "data"), cookie_secure="maybe")
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("serve started"))

    code = main(command)

    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == (
        "error: ATTRO_COOKIE_SECURE='maybe': is not true or false (e.g. ATTRO_COOKIE_SECURE=false)\n"
    )
    assert captured.out == ""
    assert not (tmp_path / "data").exists()  # nothing created, nothing run


def test_the_installed_command_prints_no_traceback_for_a_bad_setting(tmp_path: Path) -> None:
    result = run_attro("run", cwd=tmp_path, env=clean_environ(data_dir=str(tmp_path), max_body_bytes="1MB"))

    assert result.returncode == 2
    assert result.stderr == (
        "error: ATTRO_MAX_BODY_BYTES='1MB': is not a whole number (e.g. ATTRO_MAX_BODY_BYTES=1048576)\n"
    )


def test_a_bad_setting_stops_a_bare_uvicorn_launch_in_one_line(tmp_path: Path) -> None:
    # uvicorn's own start-up failure code (3): its --workers supervisor then stops instead of respawning
    command = [sys.executable, "-m", "uvicorn", "receiver.main:create_app", "--factory", "--port", "0"]
    env = clean_environ(data_dir=str(tmp_path), stripe_webhook_secret="sk_live_not_a_webhook_secret")

    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        "error: ATTRO_STRIPE_WEBHOOK_SECRET: the value does not start with whsec_ (e.g. "
        "ATTRO_STRIPE_WEBHOOK_SECRET=whsec_..., the endpoint's signing secret from the Stripe dashboard)"
    ]


def test_a_bad_program_file_stops_a_bare_uvicorn_launch_in_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "uvicorn", "receiver.main:create_app", "--factory", "--port", "0"]

    result = subprocess.run(
        command,
        cwd=REPO,
        env=clean_environ(data_dir=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'program.toml'}: program file not found (set ATTRO_PROGRAM)"
    ]


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out == f"attro {version('attro')}\n"


def test_python_dash_m_attro_is_the_same_command_line() -> None:
    result = subprocess.run([sys.executable, "-m", "attro", "--version"], capture_output=True, text=True)

    assert (result.returncode, result.stdout) == (0, f"attro {version('attro')}\n")


def test_run_finds_the_program_file_in_the_data_dir_from_any_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "srv" / "attro"
    data_dir.mkdir(parents=True)
    shutil.copy(DEMO_PROGRAM, data_dir / "program.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    result = run_attro("run", cwd=elsewhere, env=clean_environ(data_dir=str(data_dir)))

    assert result.returncode == 0, result.stderr
    assert (data_dir / "warehouse.duckdb").is_file()
    assert not (elsewhere / "data").exists()


def test_the_demo_without_a_program_file_names_it_in_one_line(
    attro_env: Callable[..., None], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # (without ATTRO_PROGRAM the demo copies its own program into the data dir: tests/e2e/test_demo.py)
    attro_env(data_dir=str(tmp_path), program=str(tmp_path / "mine.toml"))

    code = main(["demo"])

    assert code == 2
    assert (
        capsys.readouterr().err
        == f"error: {tmp_path / 'mine.toml'}: program file not found (set ATTRO_PROGRAM)\n"
    )
    assert not (tmp_path / "program.toml").exists()


def test_a_folder_where_the_program_file_belongs_is_one_line_for_attro_run(tmp_path: Path) -> None:
    # Audit: `attro run` (without --force) hashed the file for its "nothing new" check first: a traceback.
    (tmp_path / "program.toml").mkdir()

    result = run_attro("run", env=clean_environ(data_dir=str(tmp_path)))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'program.toml'}: cannot read the program file: Is a directory"
    ]
