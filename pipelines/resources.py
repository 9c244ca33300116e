"""Dagster resources: the Attro settings and the run lock, shared by every asset of a run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from core.program import Program, load_program
from core.secrets import SecretStoreError, stripe_api_key
from core.settings import Settings
from pipelines.lib.warehouse import pipeline_lock


class AttroResource(dg.ConfigurableResource):
    """Where the data lives and which program file rules it; holds the run lock while a run executes."""

    data_dir: str
    program_path: str
    now_iso: str | None = None  # pin "now" (holding periods) for reruns and tests

    _settings: Settings | None = PrivateAttr(default=None)
    _runs: tuple[str, ...] = PrivateAttr(default=())

    @classmethod
    def from_settings(cls, settings: Settings, now: datetime | None = None) -> AttroResource:
        return cls(
            data_dir=str(settings.data_dir),
            program_path=str(settings.program_path),
            now_iso=now.isoformat() if now else None,
        )

    @property
    def settings(self) -> Settings:
        return Settings(data_dir=Path(self.data_dir), program=Path(self.program_path))

    def program(self) -> Program:
        return load_program(Path(self.program_path))

    def has_stripe_api_key(self) -> bool:
        """Whether `attro stripe sync` can run (an unreadable secret store counts as no key)."""
        try:
            return stripe_api_key(self.settings) is not None
        except SecretStoreError:
            return False

    @property
    def runs(self) -> tuple[str, ...]:
        """This run's id, then the runs it re-executes (parent, root): the next warehouse any of them
        started is this run's to build on and publish (pipelines/lib/warehouse.py Build)."""
        return self._runs

    def now(self) -> datetime:
        return datetime.fromisoformat(self.now_iso) if self.now_iso else datetime.now(UTC)

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[AttroResource]:
        # The lock spans the whole run (in-process executor): no other run interleaves its writes.
        # Sensors and other evaluations outside a run only read files: no lock.
        if context.run_id is None:
            yield self
            return
        run = context.dagster_run
        lineage = (context.run_id, run.parent_run_id, run.root_run_id) if run else (context.run_id,)
        self._runs = tuple(dict.fromkeys(r for r in lineage if r))
        # another run (`attro run`, a close) holds the lock: say so in the run's log, not only by silence
        with pipeline_lock(self.settings, on_wait=context.log.warning if context.log else None):
            yield self
