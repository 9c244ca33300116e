"""One settings object, read from the environment (ATTRO_*), shared by the CLI, receiver and pipelines.

A bad value is refused when the settings are read, as `SettingsError`: one line per variable naming
it, what is wrong with the value and an example of a good one, so every command can print it and
exit without a traceback.
"""

from __future__ import annotations

import base64
import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.durable import create_once
from core.urls import is_absolute_http_url

ENV_PREFIX = "ATTRO_"
SECRET_PREFIX = "whsec_"  # every Stripe webhook signing secret starts with it
API_KEY_PREFIXES = ("rk_live_", "rk_test_", "sk_live_", "sk_test_")  # a publishable pk_ key cannot read


def is_api_key(key: str) -> bool:
    """A Stripe secret or restricted key (one of API_KEY_PREFIXES and something after it)."""
    return key.startswith(API_KEY_PREFIXES) and len(key) > len("rk_live_")


# Values never repeated in an error message: a secret must not reach a terminal's scrollback or a log.
_SECRET_FIELDS = frozenset(
    {"stripe_webhook_secret", "stripe_api_key", "api_token", "ip_hash_salt", "master_key", "admin_password"}
)
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_MEMORY_UNITS = {"kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_MEMORY_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_MIN_MEMORY_BYTES = 64 * 10**6  # below this DuckDB fails its first large allocation mid-run
_DOMAIN = re.compile(
    r"^\.?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)


class SettingsError(ValueError):
    """Bad ATTRO_* values; `problems` has one line per variable: its name, the problem, an example."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Settings(BaseSettings):
    """Everything configurable. Relative paths are resolved against the current directory."""

    # An empty variable (`ATTRO_API_TOKEN=`) means "not set": its default applies.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", frozen=True, env_ignore_empty=True
    )

    data_dir: Path = Field(default=Path("data"), examples=["/srv/attro"])
    program: Path | None = Field(
        default=None,
        description="Program file (TOML); default $ATTRO_DATA_DIR/program.toml",
        examples=["/srv/attro/program.toml"],
    )
    stripe_webhook_secret: str | None = Field(
        default=None,
        repr=False,
        description="One or more whsec_... values, comma separated",
        examples=["whsec_..., the endpoint's signing secret from the Stripe dashboard"],
    )
    stripe_api_key: str | None = Field(
        default=None,
        repr=False,
        description="Stripe API key for `attro stripe sync/backfill` (rk_... read-only); else the store's",
        examples=["rk_live_..., a restricted key with read access"],
    )
    stripe_api_base: str = Field(
        default="https://api.stripe.com",
        description="Stripe's API address (tests point it at a local server)",
        examples=["https://api.stripe.com"],
    )
    api_token: str | None = Field(default=None, repr=False, examples=["a-long-random-token"])
    cookie_domain: str | None = Field(default=None, examples=[".yourapp.com"])
    cookie_secure: bool = Field(default=True, examples=["false"])
    ip_hash_salt: str | None = Field(default=None, repr=False, examples=["a-long-random-salt"])
    fallback_url: str | None = Field(
        default=None,
        description="Where an unknown /r/<code> sends the visitor (302); unset: an HTML 404 page",
        examples=["https://yourapp.com/"],
    )
    max_body_bytes: int = Field(default=1024 * 1024, gt=0, examples=["1048576"])
    # 0 switches the timestamp checks off, for replaying recorded fixtures; a negative value would too,
    # silently, so it is refused.
    webhook_tolerance_seconds: int = Field(default=300, ge=0, examples=["300"])
    max_header_bytes: int = Field(
        default=32 * 1024,
        ge=1024,  # a request line and a browser's usual headers
        le=1024 * 1024,  # the point is a bound: no browser sends a head this big
        description="Request line + headers limit (431 above), enforced by the server",
        examples=["32768"],
    )
    header_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Time a client has to send a request's head before it is disconnected",
        examples=["10"],
    )
    body_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Time a client has to send a request's body, from the end of its head (408 after)",
        examples=["60"],
    )
    master_key: str | None = Field(
        default=None,
        repr=False,
        description="Fernet key for the secret store, else state/master.key; several, comma separated,"
        " during a rotation (the first encrypts, each decrypts)",
    )
    max_click_age_days: int = Field(
        default=400,
        gt=0,
        le=36500,  # clicks before 2000 are refused anyway; bounded so the horizon is a valid date
        description="POST /api/clicks refuses clicks older than this (backfill horizon)",
        examples=["400"],
    )
    dagster_keep_runs_days: int = Field(
        default=30,
        gt=0,
        le=36500,  # bounded so "that many days ago" is a valid date
        description="Finished Dagster runs older than this are deleted (the prune_run_history schedule)",
        examples=["30"],
    )
    duckdb_memory_limit: str = Field(
        default="1GB",
        description="DuckDB's memory limit while the pipeline runs (it spills beyond)",
        examples=["1GB"],
    )
    admin_password: str | None = Field(
        default=None,
        repr=False,
        description="The admin's password for `attro web`: a hash from `attro web hash-password` (or plain)",
    )
    web_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Where affiliates reach `attro web` (portal links)",
        examples=["https://partners.yourapp.com"],
    )
    receiver_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where visitors reach the receiver (tracking links)",
        examples=["https://go.yourapp.com"],
    )
    benchmark_noop_route: bool = Field(
        default=False,
        description="Serve GET/POST /_bench/noop, the benchmark's baseline route",
        examples=["false"],
    )

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError([_describe(error) for error in exc.errors()]) from None

    @field_validator("data_dir", "program", mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value is not None else None

    @field_validator("data_dir", mode="after")
    @classmethod
    def _a_folder(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            raise ValueError("is a file, not a folder")
        return value

    @field_validator("stripe_webhook_secret", mode="after")
    @classmethod
    def _signing_secrets(cls, value: str | None) -> str | None:
        parts = [part.strip() for part in (value or "").split(",") if part.strip()]
        for index, part in enumerate(parts, start=1):
            where = f"value {index} of {len(parts)}" if len(parts) > 1 else "the value"
            if not part.startswith(SECRET_PREFIX):
                raise ValueError(f"{where} does not start with {SECRET_PREFIX}")
            if len(part) == len(SECRET_PREFIX):
                raise ValueError(f"{where} is {SECRET_PREFIX} with nothing after it")
        return value

    @field_validator("stripe_api_key", mode="after")
    @classmethod
    def _an_api_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        key = value.strip()
        if not is_api_key(key):
            raise ValueError(
                "is not a secret or restricted key (rk_live_…, rk_test_…, sk_live_…, sk_test_…;"
                " a publishable pk_ key cannot read the API)"
            )
        return key

    @field_validator("master_key", mode="after")
    @classmethod
    def _a_fernet_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        for part in value.split(","):
            try:
                key = base64.urlsafe_b64decode(part.strip().encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                key = b""
            if len(key) != 32:
                raise ValueError(
                    "is not a Fernet key (32 url-safe base64-encoded bytes, several comma separated;"
                    " make one with `python -c 'from cryptography.fernet import Fernet;"
                    " print(Fernet.generate_key().decode())'`)"
                )
        return value

    @property
    def master_keys(self) -> list[str]:
        """ATTRO_MASTER_KEY's keys in order: the first encrypts the secret store, each decrypts it."""
        return [part.strip() for part in (self.master_key or "").split(",") if part.strip()]

    @field_validator("cookie_domain", mode="after")
    @classmethod
    def _a_domain(cls, value: str | None) -> str | None:
        if value is not None and not _DOMAIN.match(value):
            raise ValueError("is not a domain name (letters, digits, '-' and '.', an optional leading '.')")
        return value

    @field_validator("fallback_url", "stripe_api_base", "web_url", "receiver_url", mode="after")
    @classmethod
    def _an_absolute_url(cls, value: str | None) -> str | None:
        if value is not None and not is_absolute_http_url(value):
            raise ValueError("is not an absolute http(s) URL")
        return value

    @field_validator("duckdb_memory_limit", mode="after")
    @classmethod
    def _a_memory_size(cls, value: str) -> str:
        if percent := _PERCENT.match(value):
            if not 0 < float(percent[1]) <= 100:
                raise ValueError("a share of the memory must be more than 0% and at most 100%")
            return value
        size = _MEMORY.match(value)
        if size is None:
            raise ValueError(
                "is not a size: a number and a unit (KB, MB, GB, TB, KiB, MiB, GiB, TiB) or a percentage"
            )
        if float(size[1]) * _MEMORY_UNITS[size[2].lower()] < _MIN_MEMORY_BYTES:
            raise ValueError("is below 64MB, too little for a run")
        return value

    @property
    def program_path(self) -> Path:
        """ATTRO_PROGRAM, else program.toml in the data dir (wherever the command runs from)."""
        return self.program if self.program is not None else self.data_dir / "program.toml"

    @property
    def webhook_secrets(self) -> list[str]:
        """Configured signing secrets, in order; several during a rotation."""
        raw = self.stripe_webhook_secret or ""
        return [s.strip() for s in raw.split(",") if s.strip()]

    @property
    def landing_dir(self) -> Path:
        return self.data_dir / "landing"

    @property
    def build_dir(self) -> Path:
        """The pipeline's private build area: only the pipeline opens anything in here."""
        return self.data_dir / "build"

    @property
    def lake_dir(self) -> Path:
        """Raw and staging tables as immutable Parquet files (the pipeline writes, everyone reads)."""
        return self.data_dir / "lake"

    @property
    def warehouse_path(self) -> Path:
        """The published, read-only snapshot analysts open."""
        return self.data_dir / "warehouse.duckdb"

    @property
    def exports_dir(self) -> Path:
        return self.data_dir / "exports"

    @property
    def state_dir(self) -> Path:
        """State that must survive a warehouse rebuild (salt, closed periods)."""
        return self.data_dir / "state"

    @property
    def monitoring_dir(self) -> Path:
        """Counters the receiver keeps for the health page (not needed to rebuild anything)."""
        return self.data_dir / "monitoring"

    @cached_property
    def ip_salt(self) -> bytes:
        """Salt for IP hashes: ATTRO_IP_HASH_SALT, else a random one kept in state/ (mode 0600)."""
        if self.ip_hash_salt:
            return self.ip_hash_salt.encode()
        path = self.state_dir / "ip_hash_salt"
        if not path.exists():
            create_once(path, secrets.token_hex(32).encode())  # or another process's, made first
        return path.read_text().strip().encode()


# What pydantic's error types mean for a value read from the environment.
_PROBLEMS = {
    "bool_parsing": "is not true or false",
    "bool_type": "is not true or false",
    "int_parsing": "is not a whole number",
    "int_from_float": "is not a whole number",
    "int_type": "is not a whole number",
    "float_parsing": "is not a number",
    "float_type": "is not a number",
    "finite_number": "is not a finite number",
}


def _describe(error: ErrorDetails) -> str:
    """One line for one bad value: `ATTRO_X='value': problem (e.g. ATTRO_X=example)`."""
    name = str(error["loc"][0]) if error["loc"] else ""
    variable = f"{ENV_PREFIX}{name.upper()}"
    field = Settings.model_fields.get(name)
    problem = _PROBLEMS.get(error["type"]) or _bound(error) or error["msg"].removeprefix("Value error, ")
    shown = variable if name in _SECRET_FIELDS else f"{variable}={_quoted(error['input'])}"
    example = f" (e.g. {variable}={field.examples[0]})" if field is not None and field.examples else ""
    return f"{shown}: {problem}{example}"


def _bound(error: ErrorDetails) -> str | None:
    """A range error in words: `must be 0 or more`."""
    ctx = error.get("ctx", {})
    for key, words in (
        ("gt", "more than {}"),
        ("ge", "{} or more"),
        ("lt", "less than {}"),
        ("le", "{} or less"),
    ):
        if key in ctx:
            bound = ctx[key]
            if isinstance(bound, float) and bound.is_integer():
                bound = int(bound)  # 3600, not 3600.0
            return "must be " + words.format(bound)
    return None


def _quoted(value: object, limit: int = 200) -> str:
    """The value as given, quoted on one line, cut if long."""
    text = str(value)
    return repr(text if len(text) <= limit else text[:limit] + "…")
