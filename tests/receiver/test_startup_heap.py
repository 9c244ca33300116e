"""A serving receiver keeps its start-up objects out of full garbage collections; a test process does not.

Under load, each full collection of the ~100k objects FastAPI, pydantic and stripe leave stopped the
receiver for 75-100 ms (its webhook p99); frozen after start-up, they are no longer walked.
"""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from core.settings import Settings
from receiver.main import create_app
from tests.support.heap import frozen_objects_when_served


def test_the_served_receiver_freezes_its_start_up_heap(tmp_path: Path, settings: Settings) -> None:
    before, serving = frozen_objects_when_served("receiver.main", tmp_path / "data", settings.program_path)

    assert before == 0
    assert serving > 50_000  # the receiver's modules, the app and its two landing writers


def test_a_receiver_under_the_test_client_leaves_the_test_process_alone(settings: Settings) -> None:
    before = gc.get_freeze_count()
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() <= before  # frozen objects can still die; a freeze would add all alive
