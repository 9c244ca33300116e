"""An app's start-up as uvicorn runs it (its lifespan on a process's main thread), in a process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

SERVED = """
import asyncio, gc, importlib, sys
from pathlib import Path
from core.settings import Settings

create_app = importlib.import_module(sys.argv[1]).create_app
app = create_app(Settings(data_dir=Path(sys.argv[2]), program=Path(sys.argv[3])))
before = gc.get_freeze_count()

async def serve() -> None:
    async with app.router.lifespan_context(app):
        print(before, gc.get_freeze_count())

asyncio.run(serve())
"""


def frozen_objects_when_served(app_module: str, data_dir: Path, program: Path) -> tuple[int, int]:
    """gc.get_freeze_count() after `app_module.create_app(...)`, and once its start-up has run."""
    out = subprocess.run(
        [sys.executable, "-c", SERVED, app_module, str(data_dir), str(program)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    before, serving = (int(n) for n in out.stdout.split())
    return before, serving
