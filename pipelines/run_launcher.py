"""Dagster run launcher: each run forks from a resident process that has already imported Dagster and
the pipeline's libraries, instead of a fresh interpreter importing them all again.

Dagster's default launcher asks the code server to start a run, and the code server always starts a
fresh interpreter (`multiprocessing` "spawn", fixed in dagster/_grpc/server.py) that imports Dagster,
then the code location and its libraries: 3-4 s on this machine before the first step, every run,
whatever its size. This launcher keeps one `multiprocessing` fork server beside the process that
launches runs (the daemon, for queued runs), started at the first launch with `preload_modules`
imported; each run is a fork of it running `dagster api execute_run` (what Dagster's Docker and
Kubernetes launchers run), so it re-imports only the project's own modules: an edit to the code is
picked up by the next run, as with the default launcher. A library upgrade needs the daemon restarted.

A run whose code location uses another Python than the launcher's goes the default way, through its
code server. Termination sends SIGTERM to the run's process (Dagster treats it as Ctrl-C and marks the
run canceled); a run process that dies without ending its run is marked failed, as the code server
does for its own.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Self

import dagster._check as check
from dagster import DefaultRunLauncher
from dagster._core.errors import DagsterLaunchFailedError
from dagster._core.instance.ref import InstanceRef
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._serdes import ConfigurableClassData, serialize_value
from dagster._utils import get_run_crash_explanation

_FORK_SERVER = multiprocessing.get_context("forkserver")  # one per process, whatever the launcher
_FORK_SERVER_LOCK = threading.Lock()
PID_TAG = "attro/run_worker_pid"
HOST_TAG = "attro/run_worker_host"

# What `pipelines.definitions` imports that is not the project's own (1.4 s of the 1.9 s its import
# takes here) and Dagster's run entry point (1.2 s); tests/pipelines/test_run_launcher.py checks that
# importing the definitions after these pulls in no other third-party package but Polars. Polars is left
# out on purpose: importing it starts a thread (its spill-file cleaner), and a process that forks must
# not hold threads that may hold locks (Polars' own advice is not to fork it); it costs a run 0.2 s.
# pyarrow's jemalloc starts a background thread, which jemalloc's own fork handlers make safe. What
# pipelines/__init__.py sets for dlt and NumPy (telemetry off, OpenBLAS's threads) is already in the
# environment the fork server inherits: loading this launcher imported that package.
DEFAULT_PRELOAD = (
    "dagster",
    "dagster._cli.api",
    "cryptography.fernet",
    "disposable_email_domains",
    "dlt",
    "dlt.common.libs.pyarrow",
    "dlt.destinations",
    "dlt.sources.filesystem",
    "duckdb",
    "pyarrow.parquet",
    "scipy.sparse.csgraph",
    "pydantic_settings",
    "xlsxwriter",
    "stripe",
)


def execute_run(serialized_args: str) -> None:
    """The run process: `dagster api execute_run` with the arguments Dagster's own launchers pass."""
    from dagster._cli.api import execute_run_command

    execute_run_command.callback(input_json=serialized_args, compressed_input_json=None)


class PreloadedRunLauncher(DefaultRunLauncher):
    """Starts each run as a fork of a resident process with `preload_modules` imported."""

    def __init__(
        self, inst_data: ConfigurableClassData | None = None, preload_modules: Sequence[str] = DEFAULT_PRELOAD
    ):
        super().__init__(inst_data=inst_data)
        self._preload_modules = list(preload_modules)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        from dagster import Array, Field

        return {
            "preload_modules": Field(
                Array(str),
                is_required=False,
                default_value=list(DEFAULT_PRELOAD),
                description="Modules the resident process imports once, for every run forked from it "
                "(replaces the default list; the instance's storage classes are always added).",
            )
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> Self:
        return cls(inst_data=inst_data, preload_modules=config_value["preload_modules"])

    def _start(self, process: Any, instance_ref: InstanceRef) -> None:
        """Starts `process` from the fork server, starting the fork server first if it is not running
        (the first run, or after it died)."""
        # And the instance's storage and coordinator classes: a run opens the instance first
        # (SQLAlchemy, Alembic and the storage modules took 0.7 s of a run's start).
        storage = [
            v.module_name for v in instance_ref._asdict().values() if isinstance(v, ConfigurableClassData)
        ]
        modules = [*self._preload_modules, *storage]
        with _FORK_SERVER_LOCK:
            # Set each time: the fork server is one per process, and a restarted one must get this list.
            _FORK_SERVER.set_forkserver_preload(modules)
            try:
                process.start()
            except (EOFError, OSError) as error:
                raise DagsterLaunchFailedError(
                    f"The run launcher's resident process did not start ({type(error).__name__}: {error}): "
                    "a module in its preload_modules failed when imported; the traceback is in the "
                    f"daemon's output. preload_modules: {', '.join(modules)}"
                ) from error

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        origin = run.job_code_origin
        if origin is None or origin.executable_path != sys.executable:
            # Another interpreter (or no origin to load the job from here): its code server starts it.
            super().launch_run(context)
            return
        from dagster._grpc.types import ExecuteRunArgs  # gRPC's import: only where runs are launched

        instance_ref = self._instance.get_ref()
        args = ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=instance_ref)
        process = _FORK_SERVER.Process(
            target=execute_run, args=(serialize_value(args),), name=f"dagster-run-{run.run_id}"
        )
        self._start(process, instance_ref)
        self._instance.add_run_tags(run.run_id, {PID_TAG: str(process.pid), HOST_TAG: socket.gethostname()})
        threading.Thread(
            target=self._watch, args=(run.run_id, process), name=f"watch-run-{run.run_id}", daemon=True
        ).start()

    def _watch(self, run_id: str, process: Any) -> None:
        """Marks the run failed if its process ends without ending the run (killed, out of memory)."""
        process.join()
        if not self.has_instance:
            return
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return
        message = get_run_crash_explanation(f"Run process for {run_id}", process.exitcode)
        self._instance.report_engine_event(message, run, cls=self.__class__)
        self._instance.report_run_failed(run)

    def _local_pid(self, run: DagsterRun) -> int | None:
        """The run's process id, if it was forked by this launcher on this host and is still alive."""
        if run.tags.get(HOST_TAG) != socket.gethostname() or PID_TAG not in run.tags:
            return None
        pid = int(run.tags[PID_TAG])
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                # A forked run keeps the fork server's command line; anything else reused the pid.
                if b"multiprocessing.forkserver" not in cmdline.read():
                    return None
        except FileNotFoundError:
            return None
        except OSError:  # no /proc (not Linux): trust the tag
            pass
        return pid

    def terminate(self, run_id: str) -> bool:
        check.str_param(run_id, "run_id")
        if not self.has_instance:
            return False
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        if PID_TAG not in run.tags:
            return super().terminate(run_id)
        self._instance.report_run_canceling(run)
        pid = self._local_pid(run)
        if pid is None:
            self._instance.report_engine_event(
                f"The run's process ({run.tags.get(HOST_TAG)}, pid {run.tags[PID_TAG]}) is not running on "
                f"this host ({socket.gethostname()}); nothing to terminate.",
                run,
                cls=self.__class__,
            )
            return False
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """For Dagster's run monitoring (off by default): FAILED when a run this launcher forked here is
        gone. Dagster's monitor fails a run on anything but RUNNING or SUCCESS, so a run whose process this
        launcher cannot see (started through a code server, or on another host) is reported RUNNING,
        unchecked, as the default launcher leaves its runs."""
        if PID_TAG not in run.tags or run.tags.get(HOST_TAG) != socket.gethostname():
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, "not checked: its process is not this launcher's"
            )
        if self._local_pid(run) is None:
            return CheckRunHealthResult(WorkerStatus.FAILED, f"process {run.tags[PID_TAG]} is not running")
        return CheckRunHealthResult(WorkerStatus.RUNNING)
