"""The project's Dagster run launcher: every run forks from a resident process that has imported the
pipeline's libraries, can be terminated, and is failed if its process dies; the fork server stays safe
to fork (no thread but jemalloc's) and its runs keep what pipelines/__init__ sets (dlt's telemetry off,
OpenBLAS's threads)."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.launcher.base import WorkerStatus

from pipelines.run_launcher import DEFAULT_PRELOAD, HOST_TAG, PID_TAG, PreloadedRunLauncher
from tests.support import launched_job
from tests.support.paths import REPO

FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """A Dagster instance with the project's dagster.yaml but runs launched at once (no daemon)."""
    home = tmp_path_factory.mktemp("dagster_home")
    config = yaml.safe_load((REPO / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8"))
    del config["run_coordinator"]
    (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def launch(instance: dg.DagsterInstance, out: Path, then: str, python: str = sys.executable) -> str:
    origin = dg.reconstructable(launched_job.probe).get_python_origin()
    origin = origin._replace(repository_origin=origin.repository_origin._replace(executable_path=python))
    run = instance.create_run_for_job(
        launched_job.probe,
        run_config={"ops": {"look_around": {"config": {"out": str(out), "then": then}}}},
        job_code_origin=origin,
    )
    instance.launch_run(run.run_id, workspace=None)  # type: ignore[arg-type]  # this launcher needs none
    return run.run_id


def wait_for(instance: dg.DagsterInstance, run_id: str, statuses, timeout: float = 90.0) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in statuses:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} is still {instance.get_run_by_id(run_id).status}")


def facts(out: Path, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    while not out.exists():  # the probe renames the whole file into place
        assert time.monotonic() < deadline, "the run's op never started"
        time.sleep(0.05)
    return json.loads(out.read_text(encoding="utf-8"))


def messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [record.message or "" for record in instance.all_logs(run_id)]


def test_the_project_instance_launches_runs_with_it(instance) -> None:
    assert isinstance(instance.run_launcher, PreloadedRunLauncher)


def test_a_run_forks_from_a_process_that_has_imported_the_pipelines_libraries(instance, tmp_path) -> None:
    run_id = launch(instance, tmp_path / "facts.json", "end")

    run = wait_for(instance, run_id, FINISHED)
    seen = facts(tmp_path / "facts.json")
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert run.tags[PID_TAG] == str(seen["pid"]) and run.tags[HOST_TAG]
    assert seen["parent"] != os.getpid() and "multiprocessing.forkserver" in seen["parent_command"]
    assert seen["parent_has_arrow"]  # imported once, in the fork server
    # Safe to fork: no thread but the main one and jemalloc's, which its fork handlers take care of.
    assert set(seen["parent_threads"]) <= {"jemalloc_bg_thd"}, seen["parent_threads"]
    assert seen["dlt_telemetry"] is None and seen["openblas_threads"] == "1"


def test_terminating_a_run_sends_its_process_sigterm_and_cancels_it(instance, tmp_path) -> None:
    run_id = launch(instance, tmp_path / "facts.json", "wait")
    facts(tmp_path / "facts.json")
    running = instance.get_run_by_id(run_id)
    assert instance.run_launcher.check_run_worker_health(running).status == WorkerStatus.RUNNING

    assert instance.run_launcher.terminate(run_id)

    assert wait_for(instance, run_id, FINISHED).status == dg.DagsterRunStatus.CANCELED
    assert not instance.run_launcher.terminate(run_id)  # nothing left to terminate


def test_a_run_whose_process_dies_is_marked_failed_with_its_exit_code(instance, tmp_path) -> None:
    run_id = launch(instance, tmp_path / "facts.json", "die")
    facts(tmp_path / "facts.json")

    run = wait_for(instance, run_id, FINISHED)
    assert run.status == dg.DagsterRunStatus.FAILURE
    assert any(message.endswith("unexpectedly exited with code 3.") for message in messages(instance, run_id))
    health = instance.run_launcher.check_run_worker_health(run)
    assert health.status == WorkerStatus.FAILED


def test_run_monitoring_leaves_alone_a_run_whose_process_is_not_the_launchers(instance) -> None:
    # Dagster's monitor fails any run not reported RUNNING or SUCCESS; a run started elsewhere is unchecked.
    elsewhere = dg.DagsterRun(job_name="probe", tags={HOST_TAG: "another-host", PID_TAG: "1"})
    through_a_code_server = dg.DagsterRun(job_name="probe")

    for run in (elsewhere, through_a_code_server):
        assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING


def test_a_code_location_on_another_python_is_launched_through_its_code_server(instance, tmp_path) -> None:
    # Dagster's default path, which needs the workspace's gRPC code server (none here): it says so.
    with pytest.raises(DagsterInvariantViolationError, match="requires a workspace"):
        launch(instance, tmp_path / "facts.json", "end", python="/opt/other-venv/bin/python")

    assert not (tmp_path / "facts.json").exists()


BROKEN_PRELOAD = """
import sys
import dagster as dg
from tests.support import launched_job

with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    run = instance.create_run_for_job(
        launched_job.probe,
        run_config={"ops": {"look_around": {"config": {"out": sys.argv[2], "then": "end"}}}},
        job_code_origin=dg.reconstructable(launched_job.probe).get_python_origin(),
    )
    try:
        instance.launch_run(run.run_id, workspace=None)
    except Exception as error:
        print(type(error).__name__, "|", error)
    print(instance.get_run_by_id(run.run_id).status.value)
"""


def test_a_preload_module_that_fails_fails_the_launch_with_a_message_that_names_it(tmp_path) -> None:
    # In a process of its own: the fork server is one per process, and this one must never start.
    (tmp_path / "broken_on_import.py").write_text("raise RuntimeError('no database here')\n")
    home = tmp_path / "home"
    home.mkdir()
    config = {
        "run_launcher": {
            "module": "pipelines.run_launcher",
            "class": "PreloadedRunLauncher",
            "config": {"preload_modules": ["dagster._cli.api", "broken_on_import"]},
        },
        "telemetry": {"enabled": False},
    }
    (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}

    done = subprocess.run(
        [sys.executable, "-c", BROKEN_PRELOAD, str(home), str(tmp_path / "facts.json")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=REPO,
    )

    error, status = done.stdout.strip().splitlines()[-2:]
    assert error.startswith("DagsterLaunchFailedError | The run launcher's resident process did not start")
    assert "preload_modules: dagster._cli.api, broken_on_import," in error
    assert status == "FAILURE"
    assert "RuntimeError: no database here" in done.stderr  # the fork server's traceback
    assert not (tmp_path / "facts.json").exists()


def test_the_preload_covers_every_library_the_code_location_imports() -> None:
    # A library added to the pipeline but not to DEFAULT_PRELOAD costs each run its import again;
    # Polars alone is imported by each run (it starts a thread when imported: not in a fork server).
    probe = (
        "import importlib, sys\n"
        f"for name in {list(DEFAULT_PRELOAD)!r}: importlib.import_module(name)\n"
        "before = set(sys.modules)\n"
        "import pipelines.definitions\n"
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    new = set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
    assert {name for name in new if not name.startswith("_polars_runtime")} == {
        "core",
        "dagster",
        "models",
        "pipelines",
        "polars",
    }
