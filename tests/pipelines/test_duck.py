"""The DuckDB connection the pipeline computes with: ATTRO_DUCKDB_MEMORY_LIMIT holds, and what does not
fit spills into the build folder, which is left clean."""

from __future__ import annotations

from pathlib import Path

import duckdb

from core.settings import Settings
from pipelines.lib.duck import lake_connection


def test_work_beyond_the_memory_limit_spills_into_the_build_folder_and_is_cleaned_up(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", program=tmp_path / "program.toml", duckdb_memory_limit="64MB"
    )
    with duckdb.connect(config={"memory_limit": "64MB"}) as plain:
        limit = plain.execute("select current_setting('memory_limit')").fetchall()[0][0]
    spill = settings.build_dir / "duckdb-tmp"

    with lake_connection(settings) as con:
        assert con.execute(
            "select current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall() == [(limit, str(spill))]
        # about 120 MB of text: twice the limit
        text = "md5(i::varchar) || md5((i + 1)::varchar)"
        con.execute(f"create temp table big as select i, {text} as s from range(1200000) r(i)")
        assert con.execute("select count(distinct s) from big").fetchall() == [(1_200_000,)]
        spilled = con.execute("select sum(temporary_storage_bytes) from duckdb_memory()").fetchall()[0][0]
        assert spilled > 0
        assert any(spill.iterdir())

    assert not spill.exists()
