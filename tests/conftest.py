"""Fixtures every test folder shares: times, ledger books, and data directories (sites) built once."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from attro.closing import close_period
from tests.support.books import Book
from tests.support.clock import utc
from tests.support.env import clean_environ
from tests.support.paths import DEMO_PROGRAM
from tests.support.sites import (
    NOW1,
    Site,
    base_story,
    tree_bytes,
)
from tests.support.sites import (
    copy_site as _copy,
)
from tests.support.sites import (
    landing_only as _landing_only,
)


@pytest.fixture(scope="session")
def at() -> Callable[[str], datetime]:
    """`at('2026-01-10')`: a UTC datetime (10:00 when only a date is given)."""
    return utc


@pytest.fixture
def book() -> Callable[..., Book]:
    """`book(offer_terms, ...)`: a new Book over offers (dicts as in the program file; `id` defaults
    to 'case', `name` filled in); links `jane-<offer>` and `omar-<offer>` exist for each."""

    def make(*offers: dict[str, Any]) -> Book:
        filled = [{"id": "case", "name": "Offer under test", **o} for o in offers]
        return Book(filled)

    return make


@pytest.fixture(scope="session")
def base_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The base story landed and run at NOW1 (2026-03-20 12:00 UTC). Read it, never change it."""
    root = tmp_path_factory.mktemp("base") / "site"
    root.mkdir()
    (root / "program.toml").write_bytes(DEMO_PROGRAM.read_bytes())
    site = Site(root)
    base_story(site)
    site.run(NOW1)
    return site


@pytest.fixture(scope="session")
def closed_jan_site(base_site: Site, tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The base site with 2026-01 closed at NOW1 and the warehouse republished. Read it, never change it."""
    site = _copy(base_site, tmp_path_factory.mktemp("closed-jan") / "site")
    close_period(site.settings, "2026-01", now=NOW1)
    site.run(NOW1)
    return site


@pytest.fixture
def copy_site(tmp_path: Path) -> Callable[[Site], Site]:
    """`copy_site(site)`: a private copy of a site (data dir and program file) to change freely."""
    count = iter(range(100))
    return lambda site: _copy(site, tmp_path / f"copy-{next(count)}")


@pytest.fixture(scope="session")
def clone_site() -> Callable[[Site, Path], Site]:
    """`clone_site(site, root)`: a copy of the site at `root` (for module-scoped fixtures)."""
    return _copy


@pytest.fixture
def landing_only(tmp_path: Path) -> Callable[[Site], Site]:
    """`landing_only(site)`: a new site with the same program file and landing zone, nothing else
    (no build, no warehouse, no closed periods): what a full recomputation starts from."""
    return lambda site: _landing_only(site, tmp_path / "landing-only")


@pytest.fixture(scope="session")
def now1() -> datetime:
    return NOW1


@pytest.fixture(scope="session")
def snapshot_tree() -> Callable[[Path], dict[str, bytes]]:
    """`snapshot_tree(root)`: relative path → bytes of every file under root."""
    return tree_bytes


@pytest.fixture(autouse=True)
def _no_dagster_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs the tests make never write to a developer's Dagster instance (`make dev` exports none,
    but a shell may); a test that wants one sets its own."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)


@pytest.fixture
def attro_env(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """`attro_env(cookie_secure="maybe", ...)`: the environment holds exactly these ATTRO_* variables."""
    for name in list(os.environ):
        if name not in clean_environ():
            monkeypatch.delenv(name)

    def set_values(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"ATTRO_{name.upper()}", value)

    return set_values
