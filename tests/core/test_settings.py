"""ATTRO_* settings: a bad value is one line naming the variable, the problem and an example."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from core.settings import Settings, SettingsError
from tests.support.paths import REPO


def problems(**values: str) -> list[str]:
    """The lines SettingsError gives for these ATTRO_* values (the test's environment holds no other)."""
    with pytest.raises(SettingsError) as refused:
        Settings()
    return refused.value.problems


BAD_VALUES = [
    (
        "cookie_secure",
        "maybe",
        "ATTRO_COOKIE_SECURE='maybe': is not true or false (e.g. ATTRO_COOKIE_SECURE=false)",
    ),
    (
        "max_body_bytes",
        "1MB",
        "ATTRO_MAX_BODY_BYTES='1MB': is not a whole number (e.g. ATTRO_MAX_BODY_BYTES=1048576)",
    ),
    (
        "max_body_bytes",
        "0",
        "ATTRO_MAX_BODY_BYTES='0': must be more than 0 (e.g. ATTRO_MAX_BODY_BYTES=1048576)",
    ),
    (
        "webhook_tolerance_seconds",
        "-5",
        "ATTRO_WEBHOOK_TOLERANCE_SECONDS='-5': must be 0 or more (e.g. ATTRO_WEBHOOK_TOLERANCE_SECONDS=300)",
    ),
    (
        "max_click_age_days",
        "0",
        "ATTRO_MAX_CLICK_AGE_DAYS='0': must be more than 0 (e.g. ATTRO_MAX_CLICK_AGE_DAYS=400)",
    ),
    ("max_click_age_days", "9999999999", "ATTRO_MAX_CLICK_AGE_DAYS='9999999999': must be 36500 or less"),
    (
        "max_header_bytes",
        "100",
        "ATTRO_MAX_HEADER_BYTES='100': must be 1024 or more (e.g. ATTRO_MAX_HEADER_BYTES=",
    ),
    ("max_header_bytes", "99999999", "ATTRO_MAX_HEADER_BYTES='99999999': must be 1048576 or less"),
    ("header_timeout_seconds", "0", "ATTRO_HEADER_TIMEOUT_SECONDS='0': must be more than 0"),
    ("header_timeout_seconds", "inf", "ATTRO_HEADER_TIMEOUT_SECONDS='inf': is not a finite number"),
    ("header_timeout_seconds", "ten", "ATTRO_HEADER_TIMEOUT_SECONDS='ten': is not a number"),
    ("body_timeout_seconds", "0", "ATTRO_BODY_TIMEOUT_SECONDS='0': must be more than 0"),
    ("body_timeout_seconds", "3601", "ATTRO_BODY_TIMEOUT_SECONDS='3601': must be 3600 or less"),
    ("duckdb_memory_limit", "lots", "ATTRO_DUCKDB_MEMORY_LIMIT='lots': is not a size: a number and a unit"),
    ("duckdb_memory_limit", "1000", "ATTRO_DUCKDB_MEMORY_LIMIT='1000': is not a size"),  # DuckDB wants a unit
    ("duckdb_memory_limit", "1KB", "ATTRO_DUCKDB_MEMORY_LIMIT='1KB': is below 64MB, too little for a run"),
    (
        "duckdb_memory_limit",
        "0%",
        "ATTRO_DUCKDB_MEMORY_LIMIT='0%': a share of the memory must be more than 0%",
    ),
    ("fallback_url", "/pricing", "ATTRO_FALLBACK_URL='/pricing': is not an absolute http(s) URL (e.g. "),
    ("fallback_url", "javascript:alert(1)", "ATTRO_FALLBACK_URL='javascript:alert(1)': is not an absolute"),
    (
        "cookie_domain",
        "a.example; HttpOnly",
        "ATTRO_COOKIE_DOMAIN='a.example; HttpOnly': is not a domain name",
    ),
    (
        "dagster_keep_runs_days",
        "0",
        "ATTRO_DAGSTER_KEEP_RUNS_DAYS='0': must be more than 0 (e.g. ATTRO_DAGSTER_KEEP_RUNS_DAYS=30)",
    ),
    ("dagster_keep_runs_days", "7.5", "ATTRO_DAGSTER_KEEP_RUNS_DAYS='7.5': is not a whole number (e.g. "),
    ("dagster_keep_runs_days", "a month", "ATTRO_DAGSTER_KEEP_RUNS_DAYS='a month': is not a whole number"),
    ("benchmark_noop_route", "yes please", "ATTRO_BENCHMARK_NOOP_ROUTE='yes please': is not true or false"),
]


@pytest.mark.parametrize(("name", "value", "line"), BAD_VALUES, ids=[f"{n}={v}" for n, v, _ in BAD_VALUES])
def test_a_bad_value_is_one_line_naming_the_variable_the_problem_and_an_example(
    attro_env: Callable[..., None], name: str, value: str, line: str
) -> None:
    attro_env(**{name: value})

    [problem] = problems()

    assert problem.startswith(line)
    assert "(e.g. ATTRO_" in problem
    assert "\n" not in problem


def test_several_bad_values_are_one_line_each(attro_env: Callable[..., None]) -> None:
    attro_env(cookie_secure="maybe", max_body_bytes="1MB")

    lines = problems()

    assert [line.split("=")[0] for line in lines] == ["ATTRO_COOKIE_SECURE", "ATTRO_MAX_BODY_BYTES"]


def test_a_negative_webhook_tolerance_is_refused_and_zero_stays_the_documented_off(
    attro_env: Callable[..., None],
) -> None:
    attro_env(webhook_tolerance_seconds="-1")
    assert problems()[0].startswith("ATTRO_WEBHOOK_TOLERANCE_SECONDS='-1': must be 0 or more")

    attro_env(webhook_tolerance_seconds="0")
    assert Settings().webhook_tolerance_seconds == 0


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("sk_live_51Hxyzxyzxyz", "the value does not start with whsec_"),
        ("whsec_good_one_123,rk_live_secret_456", "value 2 of 2 does not start with whsec_"),
        ("whsec_", "the value is whsec_ with nothing after it"),
    ],
)
def test_a_webhook_secret_that_is_not_whsec_is_refused_without_repeating_it(
    attro_env: Callable[..., None], value: str, problem: str
) -> None:
    attro_env(stripe_webhook_secret=value)

    [line] = problems()

    assert line.startswith(
        f"ATTRO_STRIPE_WEBHOOK_SECRET: {problem} (e.g. ATTRO_STRIPE_WEBHOOK_SECRET=whsec_..."
    )
    assert "sk_live" not in line and "rk_live" not in line and "good_one" not in line


@pytest.mark.parametrize("value", ["pk_test_51Hxyzxyzxyz", "whsec_xyz123", "rk_live_", "sk_testxyz"])
def test_a_stripe_api_key_that_cannot_read_the_api_is_refused_without_repeating_it(
    attro_env: Callable[..., None], value: str
) -> None:
    attro_env(stripe_api_key=value)

    [line] = problems()

    assert line.startswith("ATTRO_STRIPE_API_KEY: is not a secret or restricted key (rk_live_…")
    assert "xyz" not in line


def test_rotation_secrets_and_spaces_around_them_are_accepted(attro_env: Callable[..., None]) -> None:
    attro_env(stripe_webhook_secret=" whsec_old_0001 , whsec_new_0002 ,")

    assert Settings().webhook_secrets == ["whsec_old_0001", "whsec_new_0002"]


def test_a_data_dir_that_is_a_file_is_refused(attro_env: Callable[..., None], tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a folder")
    attro_env(data_dir=str(tmp_path / "data"))

    assert problems() == [
        f"ATTRO_DATA_DIR='{tmp_path / 'data'}': is a file, not a folder (e.g. ATTRO_DATA_DIR=/srv/attro)"
    ]


def test_an_empty_variable_means_not_set(attro_env: Callable[..., None]) -> None:
    attro_env(api_token="", cookie_secure="", fallback_url="", max_body_bytes="", program="")

    settings = Settings()

    assert (settings.api_token, settings.cookie_secure, settings.fallback_url) == (None, True, None)
    assert settings.max_body_bytes == 1024 * 1024
    assert settings.program_path == settings.data_dir / "program.toml"


def test_the_program_file_defaults_to_the_data_dir_wherever_the_command_runs(
    attro_env: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    attro_env(data_dir="/srv/attro")

    assert Settings().program_path == Path("/srv/attro/program.toml")


def test_a_relative_program_path_is_resolved_against_the_current_directory(
    attro_env: Callable[..., None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    attro_env(data_dir="/srv/attro", program="conf/program.toml")

    assert Settings().program_path == tmp_path / "conf" / "program.toml"


def test_the_defaults_are_valid(attro_env: Callable[..., None]) -> None:
    attro_env()

    settings = Settings()

    assert (settings.webhook_tolerance_seconds, settings.duckdb_memory_limit) == (300, "1GB")
    assert settings.dagster_keep_runs_days == 30
    assert settings.fallback_url is None


@pytest.mark.parametrize("limit", ["1GB", "512MiB", "2 gb", "64MB", "1.5GiB", "80%"])
def test_every_memory_limit_the_settings_accept_duckdb_accepts(
    attro_env: Callable[..., None], limit: str
) -> None:
    attro_env(duckdb_memory_limit=limit)

    con = duckdb.connect(config={"memory_limit": Settings().duckdb_memory_limit})
    con.close()


def test_the_readme_settings_table_lists_every_setting() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Settings") :]

    missing = [name for name in Settings.model_fields if f"| `ATTRO_{name.upper()}` |" not in table]

    assert missing == []
