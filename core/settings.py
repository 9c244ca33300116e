"""One settings object, read from the environment (ATTRO_*), shared by the CLI, receiver and pipelines."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything configurable. Paths are resolved against the current directory."""

    model_config = SettingsConfigDict(env_prefix="ATTRO_", extra="ignore", frozen=True)

    data_dir: Path = Path("data")
    program: Path | None = Field(default=None, description="Program file (TOML); default data/program.toml")
    stripe_webhook_secret: str | None = Field(
        default=None, repr=False, description="One or more whsec_... values, comma separated"
    )
    api_token: str | None = Field(default=None, repr=False)
    cookie_domain: str | None = None
    cookie_secure: bool = True
    ip_hash_salt: str | None = Field(default=None, repr=False)
    max_body_bytes: int = 1024 * 1024
    webhook_tolerance_seconds: int = 300
    max_header_bytes: int = Field(
        default=32 * 1024, description="Request line + headers limit (431 above), enforced by the server"
    )
    header_timeout_seconds: float = Field(
        default=10.0, description="Time a client has to send a request's head before it is disconnected"
    )
    master_key: str | None = Field(
        default=None, repr=False, description="Fernet key for the secret store; else state/master.key"
    )
    max_click_age_days: int = Field(
        default=400, description="POST /api/clicks refuses clicks older than this (backfill horizon)"
    )
    duckdb_memory_limit: str = Field(
        default="1GB", description="DuckDB's memory limit while the pipeline runs (it spills beyond)"
    )
    admin_password: str | None = Field(
        default=None,
        repr=False,
        description="The admin's password for `attro web`: a hash from `attro web hash-password` (or plain)",
    )
    web_url: str = Field(
        default="http://127.0.0.1:8001", description="Where affiliates reach `attro web` (portal links)"
    )
    receiver_url: str = Field(
        default="http://127.0.0.1:8000", description="Where visitors reach the receiver (tracking links)"
    )
    benchmark_noop_route: bool = Field(
        default=False, description="Serve GET/POST /_bench/noop, the benchmark's baseline route"
    )

    @field_validator("data_dir", "program", mode="after")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return value.expanduser().absolute() if value is not None else None

    @property
    def program_path(self) -> Path:
        return self.program if self.program is not None else Path("data/program.toml").absolute()

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
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process created it first
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
        return path.read_text().strip().encode()
