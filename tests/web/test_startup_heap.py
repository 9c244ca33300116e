"""`attro web` keeps its start-up objects out of full garbage collections; a test process does not."""

from __future__ import annotations

import gc
from pathlib import Path

from tests.support.heap import frozen_objects_when_served
from tests.support.paths import DEMO_PROGRAM
from tests.support.web import Web


def test_the_served_web_app_freezes_its_start_up_heap(tmp_path: Path) -> None:
    before, serving = frozen_objects_when_served("web.app", tmp_path / "data", DEMO_PROGRAM)

    assert before == 0
    assert serving > 50_000  # FastAPI, Jinja's templates, DuckDB's module, the app


def test_a_web_app_under_the_test_client_leaves_the_test_process_alone(web: Web) -> None:
    before = gc.get_freeze_count()
    with web.client() as client:
        assert client.get("/admin/login").status_code == 200
        assert gc.get_freeze_count() <= before  # frozen objects can still die; a freeze would add all alive
