"""Run the pipeline and kill -9 it at a named point: `python -m tests.support.crash POINT DATA_DIR PROGRAM`.

The points are the windows a crash can hit: each one patches the code that runs there so the process
sends itself SIGKILL exactly then (nothing cleans up, as after a power cut).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after(owner: Any, name: str, calls: int = 1, when: Callable[..., bool] = lambda *a, **k: True) -> None:
    """Kill the process right after the `calls`-th call of owner.name that `when` accepts."""
    original = getattr(owner, name)
    seen = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal seen
        result = original(*args, **kwargs)
        if when(*args, **kwargs):
            seen += 1
            if seen >= calls:
                _die()
        return result

    setattr(owner, name, wrapper)


def _before(owner: Any, name: str) -> None:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _die()

    setattr(owner, name, wrapper)


def _half_deleted_extracted_package() -> None:
    """dlt deleting the extracted copy after normalizing: killed with its schema.json already gone."""
    from dlt.common.storages.load_package import PackageStorage

    original = PackageStorage.delete_package

    def wrapper(self: PackageStorage, load_id: str, not_exists_ok: bool = False) -> None:
        path = Path(self.storage.storage_path) / self.get_package_path(load_id)
        if "extracted" in str(path) and (path / "schema.json").exists():
            (path / "schema.json").unlink()
            _die()
        original(self, load_id, not_exists_ok)

    PackageStorage.delete_package = wrapper  # type: ignore[method-assign]


POINTS = (
    "extracted",
    "normalized-renamed",
    "extracted-half-deleted",
    "loading",
    "load-complete-pending",
    "staging",
    "publish",
)


def arm(point: str) -> None:
    """Install the kill for `point`."""
    if point == "extracted":  # dlt extracted the package, nothing normalized yet
        from dlt.pipeline.pipeline import Pipeline

        _before(Pipeline, "normalize")
    elif point == "normalized-renamed":  # renamed into load/normalized, extracted copy still there
        from dlt.common.storages.load_storage import LoadStorage

        _after(LoadStorage, "commit_new_load_package")
    elif point == "extracted-half-deleted":
        _half_deleted_extracted_package()
    elif point == "loading":  # the first data file copied into the lake, the load not complete
        from fsspec.implementations.local import LocalFileSystem

        _after(
            LocalFileSystem, "put_file", when=lambda self, lpath, rpath, **kw: str(rpath).endswith(".parquet")
        )
    elif point == "load-complete-pending":  # every file copied, the completion not written
        from dlt.destinations.impl.filesystem.filesystem import FilesystemClient

        _before(FilesystemClient, "complete_load")
    elif point == "staging":  # raw loaded, staging being written
        from pipelines.lake import LakeTable

        # every lake file is written by write_if (write calls it)
        _after(LakeTable, "write_if", when=lambda self, con, query, name, keep: "staging" in str(self.folder))
    elif point == "publish":  # the next warehouse built, not yet renamed into place
        import pipelines.steps as steps

        _before(steps, "publish")
    else:
        raise SystemExit(f"unknown crash point {point!r}")


def main(argv: list[str]) -> int:
    point, data_dir, program = argv
    from core.settings import Settings
    from pipelines.run import run_pipeline

    arm(point)
    run_pipeline(Settings(data_dir=Path(data_dir), program=Path(program)), force=True)
    return 3  # the kill never came: the point was not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
