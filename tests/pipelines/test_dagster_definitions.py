"""The Dagster code location: what it defines, the landing sensor, the checks and the instance config."""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest
import yaml
from dagster._core.remote_origin import RegisteredCodeLocationOrigin, RemoteRepositoryOrigin

from core.contracts import MARTS
from core.settings import Settings
from core.state.review_decisions import record_decision
from pipelines import freshness, sensors
from pipelines.assets import program
from pipelines.checks import conversion_ids_unique, payment_ids_unique
from pipelines.definitions import build_definitions
from pipelines.lib.warehouse import Build, next_path, pipeline_lock
from pipelines.resources import AttroResource
from pipelines.run import run_pipeline
from tests.support.fake_stripe import FakeStripe, serve
from tests.support.paths import REPO

TABLES = ("affiliates", "links", "codes", "offers", "offer_tiers")
ASSET_KEYS = {  # at least these (DESIGN §3 tables and the published snapshot)
    "raw/stripe_events",
    "raw/clicks",
    "raw/landing_rejects",
    "staging/stripe_objects",
    "staging/rejected_events",
    "program/affiliates",
    "program/links",
    "program/offers",
    "program/offer_tiers",
    "program/codes",
    "marts/clicks",
    "marts/payments",
    "marts/payment_adjustments",
    "marts/rejected_events",
    "marts/conversions",
    "marts/unattributed_payments",
    "marts/commission_lines",
    "marts/affiliate_statements",
    "warehouse/snapshot",
}


def definitions(settings: Settings) -> dg.Definitions:
    return build_definitions(AttroResource.from_settings(settings))


def evaluate_sensor(
    settings: Settings, cursor: str | None, instance: dg.DagsterInstance | None = None
) -> dg.SensorResult:
    sensor = definitions(settings).resolve_sensor_def("new_landing_files")
    resources = {"attro": AttroResource.from_settings(settings)}
    instance = instance or dg.DagsterInstance.ephemeral()
    with dg.build_sensor_context(cursor=cursor, resources=resources, instance=instance) as context:
        result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_the_definitions_load_with_every_asset_job_schedule_sensor_and_check(kit) -> None:
    defs = definitions(kit.settings())

    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys >= ASSET_KEYS, ASSET_KEYS - keys
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert checks == {
        ("marts/payments", "payment_ids_unique"),
        ("marts/conversions", "conversion_ids_unique"),
    }
    assert all(spec.blocking for spec in payment_ids_unique.check_specs)

    job = defs.resolve_job_def("materialize_all")
    # the whole graph but the monthly export, which has its own job and schedule
    assert {key.to_user_string() for key in job.asset_layer.selected_asset_keys} == keys - {
        "exports/last_closed_period"
    }
    schedule = defs.resolve_schedule_def("materialize_all_hourly")
    assert (schedule.job_name, schedule.cron_schedule, schedule.execution_timezone) == (
        "materialize_all",
        "0 * * * *",
        "UTC",
    )
    assert defs.resolve_sensor_def("new_landing_files").job_name == "materialize_all"


def test_the_code_location_module_loads() -> None:
    import pipelines.definitions as location

    dg.Definitions.validate_loadable(location.defs)


def test_the_sensor_requests_a_run_only_when_landing_data_is_new(kit) -> None:
    settings = kit.settings()
    landing = kit.landing(settings)

    nothing = evaluate_sensor(settings, cursor=None)
    assert not nothing.run_requests and nothing.skip_reason is not None

    landing.events(kit.sim(seed=1).bare_charge(kit.at, 100).events)
    new = evaluate_sensor(settings, cursor=nothing.cursor)
    assert len(new.run_requests) == 1
    assert new.cursor is not None and new.cursor != nothing.cursor

    same = evaluate_sensor(settings, cursor=new.cursor)
    assert not same.run_requests and same.skip_reason is not None
    assert same.cursor == new.cursor

    landing.click("jane-pro", kit.at)  # a new file in another stream
    grown = evaluate_sensor(settings, cursor=same.cursor)
    assert len(grown.run_requests) == 1 and grown.cursor != same.cursor
    assert grown.run_requests[0].run_key != new.run_requests[0].run_key

    # the program file edited, a review decision taken: published within a tick too (audit: only a
    # landing change, or the hourly schedule, ran the graph)
    program_before = settings.program_path.read_text(encoding="utf-8")
    with settings.program_path.open("a", encoding="utf-8") as fh:
        fh.write('\n[[affiliates]]\nid = "xia"\nname = "Xia"\n')
    edited = evaluate_sensor(settings, cursor=grown.cursor)
    assert len(edited.run_requests) == 1 and edited.cursor != grown.cursor
    record_decision(settings, "rf_00000000000000aa", "approved")
    decided = evaluate_sensor(settings, cursor=edited.cursor)
    assert len(decided.run_requests) == 1 and decided.cursor != edited.cursor
    # the edit undone: the inputs are as they were two requests ago, and a run is asked for again
    # under a key of its own (Dagster skips a run key it has seen)
    settings.program_path.write_text(program_before, encoding="utf-8")
    (settings.state_dir / "review_decisions.jsonl").unlink()
    undone = evaluate_sensor(settings, cursor=decided.cursor)
    assert len(undone.run_requests) == 1 and undone.cursor == grown.cursor
    keys = [r.run_requests[0].run_key for r in (new, grown, edited, decided, undone)]
    assert len(set(keys)) == len(keys)


def rewrite_landing_zone(settings: Settings, keep_mtime: bool) -> None:
    """Every landing file replaced by other bytes of the same size under the same name (a reset of the
    landing zone); its mtime moved on, or put back as `cp -p` or a restored backup would."""
    for path in sorted(settings.landing_dir.rglob("*.ndjson")):
        before = path.stat()
        path.write_bytes(path.read_bytes().swapcase())
        mtime = before.st_mtime_ns if keep_mtime else before.st_mtime_ns + 1_000_000_000
        os.utime(path, ns=(before.st_atime_ns, mtime))
        assert path.stat().st_size == before.st_size


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["new-mtime", "same-mtime"])
def test_the_sensor_notices_a_landing_zone_reset_to_files_of_the_same_names_and_sizes(
    kit, keep_mtime: bool
) -> None:
    settings = kit.settings()
    landing = kit.landing(settings)
    landing.events(kit.sim(seed=1).bare_charge(kit.at, 100).events)
    landing.click("jane-pro", kit.at)
    seen = evaluate_sensor(settings, cursor=None)
    assert len(seen.run_requests) == 1

    rewrite_landing_zone(settings, keep_mtime=keep_mtime)
    after_reset = evaluate_sensor(settings, cursor=seen.cursor)

    assert len(after_reset.run_requests) == 1
    assert after_reset.cursor != seen.cursor


def add_run(instance: dg.DagsterInstance, job: str, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    """A run of `job` in `status`, as the daemon's queue holds it (a queued run names its code location)."""
    repository = RemoteRepositoryOrigin(RegisteredCodeLocationOrigin("attro"), "__repository__")
    origin = repository.get_job_origin(job)
    run = dg.DagsterRun(job_name=job, run_id=str(uuid.uuid4()), status=status, remote_job_origin=origin)
    return instance.add_run(run)


@pytest.mark.parametrize(
    "status",
    [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
    ids=["queued", "starting", "running"],
)
def test_the_sensor_asks_for_no_second_run_while_one_is_queued_or_running(kit, status) -> None:
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=3).bare_charge(kit.at, 100).events)
    instance = dg.DagsterInstance.ephemeral()
    add_run(instance, "stripe_sync", status)  # another job's run does not hold the pipeline back
    add_run(instance, "materialize_all", dg.DagsterRunStatus.SUCCESS)
    assert len(evaluate_sensor(settings, cursor=None, instance=instance).run_requests) == 1

    busy = add_run(instance, "materialize_all", status)
    waiting = evaluate_sensor(settings, cursor=None, instance=instance)

    assert not waiting.run_requests
    assert waiting.skip_reason is not None and busy.run_id in str(waiting.skip_reason)
    assert waiting.cursor is None  # the new lines are still to be asked for once that run ends

    instance.delete_run(busy.run_id)  # it ended (a finished run's status is no longer busy)
    add_run(instance, "materialize_all", dg.DagsterRunStatus.FAILURE)
    after = evaluate_sensor(settings, cursor=waiting.cursor, instance=instance)
    assert len(after.run_requests) == 1 and after.cursor is not None


def test_the_hourly_schedule_asks_for_no_second_run_while_one_is_queued_or_running(kit) -> None:
    # Ops audit: the schedule queued a run every hour behind one already queued or running.
    schedule = definitions(kit.settings()).resolve_schedule_def("materialize_all_hourly")
    with dg.instance_for_test() as instance:  # a schedule's context needs a persistent instance
        add_run(instance, "stripe_sync", dg.DagsterRunStatus.STARTED)  # another job's run: no matter

        def tick() -> dg.ScheduleExecutionData:
            with dg.build_schedule_context(instance=instance) as context:
                return schedule.evaluate_tick(context)

        assert len(tick().run_requests or []) == 1
        busy = add_run(instance, "materialize_all", dg.DagsterRunStatus.QUEUED)
        waiting = tick()
        assert not waiting.run_requests and busy.run_id in str(waiting.skip_message)
        instance.delete_run(busy.run_id)
        assert len(tick().run_requests or []) == 1


def test_after_a_failed_run_the_sensor_asks_again_waiting_longer_after_each_failure(kit, monkeypatch) -> None:
    # A run the sensor asked for was killed: what it was to load is not published, and nothing new may
    # ever land to move the cursor. The sensor asks again, 1 min after the failure, then 2, 4 …
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=5).bare_charge(kit.at, 100).events)
    instance = dg.DagsterInstance.ephemeral()
    asked = evaluate_sensor(settings, cursor=None, instance=instance)
    add_run(instance, "materialize_all", dg.DagsterRunStatus.SUCCESS)
    assert evaluate_sensor(settings, cursor=asked.cursor, instance=instance).skip_reason == dg.SkipReason(
        "no new landing data"
    )
    later = {"seconds": 0}  # the sensor's clock: this far past the real one (a run ends at real now)
    monkeypatch.setattr(sensors, "time", SimpleNamespace(time=lambda: time.time() + later["seconds"]))

    failed = add_run(instance, "materialize_all", dg.DagsterRunStatus.FAILURE)
    soon = evaluate_sensor(settings, cursor=asked.cursor, instance=instance)
    assert not soon.run_requests
    assert str(soon.skip_reason) == str(
        dg.SkipReason(f"run {failed.run_id} failed (1 in a row): asking again 1 min after it ended")
    )

    later["seconds"] = 61
    retry = evaluate_sensor(settings, cursor=asked.cursor, instance=instance)
    assert [r.run_key for r in retry.run_requests] == [f"{asked.cursor}:after:{failed.run_id}"]
    assert retry.cursor == asked.cursor

    again = add_run(instance, "materialize_all", dg.DagsterRunStatus.FAILURE)  # failed again
    waiting = evaluate_sensor(settings, cursor=asked.cursor, instance=instance)
    assert not waiting.run_requests and "(2 in a row): asking again 2 min" in str(waiting.skip_reason)
    later["seconds"] = 121
    assert (
        evaluate_sensor(settings, cursor=asked.cursor, instance=instance)
        .run_requests[0]
        .run_key.endswith(again.run_id)
    )


def test_a_hand_edit_of_the_offer_terms_asks_for_one_run_and_a_runs_own_record_for_none(kit) -> None:
    # The README's typo fix (an offer's lines deleted from offer_terms.jsonl) is published within a
    # tick; the run it asks for, recording the file again, asks for no other (a live audit: two runs).
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=6).bare_charge(kit.at, 100).events)
    instance = dg.DagsterInstance.ephemeral()
    first = evaluate_sensor(settings, cursor=None, instance=instance)
    kit.run(settings)  # the first run records the offers' terms
    add_run(instance, "materialize_all", dg.DagsterRunStatus.SUCCESS)
    assert not evaluate_sensor(settings, cursor=first.cursor, instance=instance).run_requests

    terms = settings.state_dir / "offer_terms.jsonl"
    terms.write_text("".join(terms.read_text().splitlines(keepends=True)[1:]))
    edited = evaluate_sensor(settings, cursor=first.cursor, instance=instance)
    assert len(edited.run_requests) == 1
    kit.run(settings)  # records the offer's terms again
    add_run(instance, "materialize_all", dg.DagsterRunStatus.SUCCESS)
    assert not evaluate_sensor(settings, cursor=edited.cursor, instance=instance).run_requests

    # a run that recorded new terms and then failed is asked for again after the back-off, not at once
    terms.write_text(terms.read_text() + terms.read_text().splitlines(keepends=True)[0])
    add_run(instance, "materialize_all", dg.DagsterRunStatus.FAILURE)
    failed = evaluate_sensor(settings, cursor=edited.cursor, instance=instance)
    assert not failed.run_requests and "failed (1 in a row)" in str(failed.skip_reason)


def test_every_job_and_an_ad_hoc_materialize_all_from_the_ui_run_in_one_process(kit) -> None:
    # Dagster's default executor starts a process per step: an ad-hoc "Materialize all" (the implicit
    # asset job) took about five times the named job with it.
    defs = definitions(kit.settings())
    jobs = {job.name: job.executor_def.name for job in defs.resolve_all_job_defs()}
    jobs["(ad hoc)"] = defs.resolve_implicit_global_asset_job_def().executor_def.name

    assert {"materialize_all", "(ad hoc)"} <= jobs.keys()
    assert set(jobs.values()) == {dg.in_process_executor.name}, jobs


def test_every_asset_has_a_description_of_its_own(kit) -> None:
    graph = definitions(kit.settings()).resolve_asset_graph()
    descriptions = {key.to_user_string(): graph.get(key).description for key in graph.get_all_asset_keys()}

    assert all(text and text.strip() for text in descriptions.values()), descriptions
    shared = Counter(descriptions.values())
    assert [text for text, count in shared.items() if count > 1] == []


def test_the_sensor_does_not_wait_for_a_run_in_progress(kit) -> None:
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=2).bare_charge(kit.at, 100).events)
    results: list[dg.SensorResult] = []
    thread = threading.Thread(target=lambda: results.append(evaluate_sensor(settings, None)), daemon=True)
    with pipeline_lock(settings):  # a run is writing the build database
        thread.start()
        thread.join(timeout=2)
        finished_during_run = bool(results)
    thread.join(timeout=10)
    assert finished_during_run


def test_the_program_assets_report_the_rows_each_table_holds(kit) -> None:
    settings = kit.settings()
    with settings.program_path.open("a", encoding="utf-8") as fh:
        fh.write(
            '\n[[offers]]\nid = "tiered"\nname = "Tiered"\ntype = "percent"\npercent = 10\n'
            '[[offers.tiers]]\nname = "silver"\nmin_conversions = 3\npercent = 12\n'
            '[[offers.tiers]]\nname = "gold"\nmin_conversions = 5\npercent = 15\n'
            "[[offers.versions]]\neffective_from = 2026-02-01\npercent = 11\n"
        )

    result = dg.materialize([program], resources={"attro": AttroResource.from_settings(settings)})

    reported = {
        "/".join(m.asset_key.path): m.metadata["rows"].value
        for m in result.asset_materializations_for_node("program")
    }
    con = duckdb.connect(str(next_path(settings)), read_only=True)
    try:
        held = {f"program/{t}": con.sql(f"select count(*) from program.{t}").fetchall()[0][0] for t in TABLES}
    finally:
        con.close()
    assert reported == held
    assert held["program/offer_tiers"] >= 2  # the tiered offer's two tiers, which were reported as 0


def _marts_file(path: Path, payment_ids: list[str]) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.payments as select unnest(?) as payment_id", [payment_ids])
    con.execute(
        "create table marts.conversions as select * from (values ('cv_1'), ('cv_2')) t(conversion_id)"
    )
    con.close()


def test_the_uniqueness_checks_fail_on_a_duplicate_id_in_what_the_run_builds_else_check_the_published(
    kit, monkeypatch
) -> None:
    settings = kit.settings()
    settings.build_dir.mkdir(parents=True)
    attro = AttroResource.from_settings(settings)
    run = "run-1"
    monkeypatch.setattr(AttroResource, "runs", property(lambda _self: (run,)))  # as a Dagster run sets up
    with pytest.raises(RuntimeError, match="no warehouse to check: none published"):
        payment_ids_unique(attro=attro)
    _marts_file(next_path(settings), ["in_1", "in_1", "pi_2"])
    Build(settings).begin("run-1")
    _marts_file(settings.warehouse_path, ["in_1", "pi_2"])

    payments = payment_ids_unique(attro=attro)
    conversions = conversion_ids_unique(attro=attro)

    assert not payments.passed and payments.metadata["duplicate_payment_ids"].value == 1
    assert conversions.passed and conversions.metadata["duplicate_conversion_ids"].value == 0
    run = "run-2"  # the checks on their own ("Execute checks"): the published warehouse
    assert payment_ids_unique(attro=attro).passed


def test_a_job_run_with_a_bad_program_file_fails_and_publishes_nothing(kit) -> None:
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=3).bare_charge(kit.at, 100).events)
    # The sensor or schedule starts the job directly, without run_pipeline's program pre-check.
    settings.program_path.write_text(
        settings.program_path.read_text(encoding="utf-8").replace('affiliate = "lena"', 'affiliate = "zoe"'),
        encoding="utf-8",
    )
    job = definitions(settings).resolve_job_def("materialize_all")

    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )

    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    assert [e.step_key for e in failures] == ["program"]
    error = failures[0].step_failure_data.error
    while error.cause is not None:
        error = error.cause
    assert str(settings.program_path) in error.message and "'zoe'" in error.message
    assert not settings.warehouse_path.exists()


def test_a_failing_stage_says_which_and_why_in_one_line(kit) -> None:
    # Audit: a failed raw step showed dlt's multi-line exception with advice that does not apply here
    # (abort packages, the destination may be inconsistent); `attro run` said it in one line.
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=3).bare_charge(kit.at, 100).events)
    settings.lake_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.lake_dir.write_text("a file where the lake's folder goes")
    job = definitions(settings).resolve_job_def("materialize_all")

    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )

    (failure,) = [e for e in result.all_events if e.is_step_failure]
    assert failure.step_key == "raw"
    message = failure.step_failure_data.error.message
    assert message.startswith(
        "dagster._core.definitions.events.Failure: raw (loading the landing zone) failed: "
    )
    assert str(settings.lake_dir) in message
    assert not settings.warehouse_path.exists()


def test_a_build_dir_that_cannot_be_written_fails_the_raw_stage_in_one_line(kit) -> None:
    # Ops audit: a full data/build failed `raw` with Dagster's "Error occurred while executing op"
    # (the note of the run's start was written outside the stage), the cause only nested under it.
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=3).bare_charge(kit.at, 100).events)
    (settings.build_dir / "next.json.tmp").mkdir(parents=True)
    job = definitions(settings).resolve_job_def("materialize_all")

    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )

    failures = {e.step_key: e.step_failure_data.error.message for e in result.all_events if e.is_step_failure}
    assert failures["raw"].startswith(
        "dagster._core.definitions.events.Failure: raw (loading the landing zone) failed: Is a directory: "
    )
    assert not settings.warehouse_path.exists()


def test_a_run_waiting_for_another_says_so_in_its_log(kit) -> None:
    # Audit: a Dagster run waiting for `attro run`'s lock sat silent in the UI.
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=3).bare_charge(kit.at, 100).events)
    instance = dg.DagsterInstance.ephemeral()
    held, release = threading.Event(), threading.Event()

    def other_run() -> None:
        with pipeline_lock(settings):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=other_run)
    holder.start()
    held.wait(10)
    threading.Timer(2.0, release.set).start()
    try:
        result = (
            definitions(settings)
            .resolve_job_def("materialize_all")
            .execute_in_process(
                instance=instance, run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
            )
        )
    finally:
        release.set()
        holder.join()

    assert result.success
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any(
        "another pipeline run" in m and "holds" in m and "waiting for it, 600 s at most" in m
        for m in messages
    ), messages


def _schemas(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        found = con.execute("select schema_name, count(*) from duckdb_tables() group by all").fetchall()
        return dict(found)
    finally:
        con.close()


def test_a_run_of_part_of_the_graph_publishes_a_whole_warehouse_or_nothing(kit) -> None:
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=4).bare_charge(kit.at, 2500).events)
    job = definitions(settings).resolve_job_def("materialize_all")
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    instance = dg.DagsterInstance.ephemeral()

    assert job.execute_in_process(instance=instance, run_config=quiet).success
    whole = _schemas(settings.warehouse_path)
    assert whole["program"] == len(TABLES)
    # a Dagster run records what it published from, as `attro run` does: nothing new, nothing to do
    assert freshness.last_run(settings) is not None
    assert run_pipeline(settings) == {"skipped": True}  # the same day as the Dagster run

    marts_and_publish = [dg.AssetKey(["marts", name]) for name in MARTS] + [
        dg.AssetKey(["warehouse", "snapshot"])
    ]
    subset = job.execute_in_process(instance=instance, run_config=quiet, asset_selection=marts_and_publish)
    assert subset.success
    assert _schemas(settings.warehouse_path) == whole  # the program tables too, not only the marts

    published = settings.warehouse_path.stat()
    alone = job.execute_in_process(
        instance=instance,
        run_config=quiet,
        asset_selection=[dg.AssetKey(["warehouse", "snapshot"])],
        raise_on_error=False,
    )
    assert not alone.success
    (failure,) = [e for e in alone.all_events if e.is_step_failure]
    error = failure.step_failure_data.error
    while error.cause is not None:
        error = error.cause
    assert "this run built no warehouse to publish" in error.message
    assert settings.warehouse_path.stat().st_ino == published.st_ino  # untouched


def test_a_run_that_loads_landing_never_builds_on_a_next_warehouse_a_crashed_run_left(kit) -> None:
    settings = kit.settings()
    kit.landing(settings).events(kit.sim(seed=5).bare_charge(kit.at, 2500).events)
    settings.build_dir.mkdir(parents=True)
    con = duckdb.connect(str(next_path(settings)))  # half built by a run killed before its program step
    con.execute("create schema stale; create table stale.leftover as select 1 as x")
    con.close()
    job = definitions(settings).resolve_job_def("materialize_all")
    without_program = [
        key for key in job.asset_layer.executable_asset_keys if key.path[0] not in ("program", "exports")
    ]

    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    assert job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), run_config=quiet, asset_selection=without_program
    ).success

    published = _schemas(settings.warehouse_path)
    assert "stale" not in published and published["program"] == len(TABLES)


def test_the_dagster_instance_runs_one_job_at_a_time(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8"))
    assert config["run_coordinator"]["config"]["max_concurrent_runs"] == 1

    home = tmp_path / "dagster_home"
    shutil.copytree(REPO / "dagster_home", home, ignore=shutil.ignore_patterns("history", "storage", "*.db"))
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        coordinator = instance.run_coordinator
        assert type(coordinator).__name__ == "QueuedRunCoordinator"
        assert coordinator.get_run_queue_config().max_concurrent_runs == 1
        # a run whose process died with the daemon is failed by the monitor, not left holding the slot
        assert instance.run_monitoring_enabled
        assert instance.run_launcher.supports_check_run_worker_health
    finally:
        instance.dispose()


# -- the Stripe sync job ---------------------------------------------------------------------------

STRIPE_KEY = "rk_test_51AttroDagsterSync0000001"


def run_stripe_sync(settings: Settings) -> dg.ExecuteInProcessResult:
    return (
        definitions(settings)
        .resolve_job_def("stripe_sync")
        .execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
    )


def test_the_stripe_sync_runs_daily_once_an_api_key_is_set(kit, monkeypatch) -> None:
    settings = kit.settings()
    monkeypatch.delenv("ATTRO_STRIPE_API_KEY", raising=False)
    without = definitions(settings).resolve_schedule_def("stripe_sync_daily")
    monkeypatch.setenv("ATTRO_STRIPE_API_KEY", STRIPE_KEY)
    with_key = definitions(settings).resolve_schedule_def("stripe_sync_daily")

    assert (without.job_name, without.cron_schedule, without.execution_timezone) == (
        "stripe_sync",
        "30 5 * * *",
        "UTC",
    )
    assert without.default_status == dg.DefaultScheduleStatus.STOPPED
    assert with_key.default_status == dg.DefaultScheduleStatus.RUNNING


def test_the_stripe_sync_without_a_key_skips_and_says_why(kit, monkeypatch) -> None:
    monkeypatch.delenv("ATTRO_STRIPE_API_KEY", raising=False)

    result = run_stripe_sync(kit.settings())

    assert result.success
    [output] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    skipped = output.event_specific_data.metadata["skipped"].value
    assert skipped.startswith("no Stripe API key: set ATTRO_STRIPE_API_KEY")


def test_the_stripe_sync_records_how_many_events_the_webhooks_missed_on_raw_stripe_events(
    kit, monkeypatch
) -> None:
    settings = kit.settings()
    recent = datetime.now(UTC) - timedelta(days=2)
    delivered = kit.sim(seed=8).one_time_checkout(recent, 2500).events[:1]
    missed = kit.sim(seed=9).one_time_checkout(recent, 4000).events
    kit.landing(settings).events(delivered)
    fake = FakeStripe(STRIPE_KEY, events=[*delivered, *missed])
    monkeypatch.setenv("ATTRO_STRIPE_API_KEY", STRIPE_KEY)

    with serve(fake):
        monkeypatch.setenv("ATTRO_STRIPE_API_BASE", fake.url)
        result = run_stripe_sync(settings)

    assert result.success
    [observation] = result.asset_observations_for_node("sync_stripe_events")
    assert observation.asset_key == dg.AssetKey(["raw", "stripe_events"])
    assert observation.metadata["missed_by_webhooks"].value == len(missed)
    assert observation.metadata["already_landed"].value == len(delivered)
    assert evaluate_sensor(settings, cursor=None).run_requests  # the sensor loads what was landed


def test_a_rejected_key_fails_the_stripe_sync_with_one_line(kit, monkeypatch) -> None:
    fake = FakeStripe(STRIPE_KEY)
    monkeypatch.setenv("ATTRO_STRIPE_API_KEY", "rk_test_51Revoked00000000000000")

    with serve(fake):
        monkeypatch.setenv("ATTRO_STRIPE_API_BASE", fake.url)
        result = run_stripe_sync(kit.settings())

    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith("Stripe rejected the API key (401): Invalid API Key provided: rk_test_")
    assert "\n" not in description and "rk_test_51Revoked00000000000000" not in description
