"""The real receiver (and `attro web`) as their own uvicorn processes on a free port: for the demo, e2e
tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Self

import httpx

from core.settings import Settings
from receiver.program_file import SUPERVISED_WORKER_ENV
from receiver.serving import uvicorn_cli_args


class ReceiverStartError(RuntimeError):
    """The receiver (or `attro web`) exited during start-up or never answered its probe."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM and wait; SIGKILL if it is still there 10 s later."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _await_ready(process: subprocess.Popen[bytes], probe: str, seconds: float, name: str, log: Path) -> None:
    """Until `probe` answers 200: ReceiverStartError (the process stopped) if it exits first or
    `seconds` pass, since the caller's `with` never gets it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ReceiverStartError(f"{name} exited during start-up (see {log})")
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # not up yet, or up but unhealthy (each probe fsyncs): ask again shortly
    _stop(process)
    raise ReceiverStartError(f"{name} did not answer {probe} with 200 within {seconds:.0f} s")


class _UvicornProcess:
    """What both launchers share: `python -m uvicorn <APP> --factory` on 127.0.0.1:`port` with the
    request head cap and timeout `attro serve` uses, the settings' data dir and program file, output
    in `<data_dir>/<LOG_NAME>-<port>.log`, ready once PROBE answers 200; a context manager."""

    APP: ClassVar[str]
    PROBE: ClassVar[str]
    NAME: ClassVar[str]
    LOG_NAME: ClassVar[str]

    settings: Settings
    env: dict[str, str]
    port: int
    startup_seconds: float
    process: subprocess.Popen[bytes] | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.settings.data_dir / f"{self.LOG_NAME}-{self.port}.log"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "uvicorn", self.APP, "--factory"]
        command += uvicorn_cli_args(self.settings)  # as `attro serve`: request head cap and timeout
        return command + ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]

    def _own_env(self) -> dict[str, str]:
        """ATTRO_* variables of this kind of process, before `env`'s."""
        return {}

    def start(self) -> Self:
        env = {
            **os.environ,
            "ATTRO_DATA_DIR": str(self.settings.data_dir),
            "ATTRO_PROGRAM": str(self.settings.program_path),
            "ATTRO_COOKIE_SECURE": "false",
            **self._own_env(),
            **self.env,
        }
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command(), env=env, stdout=log, stderr=log)
        _await_ready(self.process, self.url + self.PROBE, self.startup_seconds, self.NAME, self.log_path)
        return self

    def stop(self) -> None:
        _stop(self.process)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class ReceiverProcess(_UvicornProcess):
    """`python -m uvicorn receiver.main:create_app --factory` with `settings`' data dir and program file.

    A context manager (start, then stop); `kill()` sends SIGKILL for crash tests. `env` adds or
    overrides ATTRO_* variables; the process's output goes to `<data_dir>/receiver-<port>.log`.
    """

    APP: ClassVar[str] = "receiver.main:create_app"
    PROBE: ClassVar[str] = "/healthz"
    NAME: ClassVar[str] = "the receiver"
    LOG_NAME: ClassVar[str] = "receiver"

    settings: Settings
    secret: str
    token: str | None = None
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    startup_seconds: float = 30.0
    process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        command = super().command()
        return command + ["--workers", str(self.workers)] if self.workers > 1 else command

    def _own_env(self) -> dict[str, str]:
        return {
            "ATTRO_STRIPE_WEBHOOK_SECRET": self.secret,
            **({"ATTRO_API_TOKEN": self.token} if self.token else {}),
            # workers as `attro serve --workers N` supervises them (one started on a bad program file
            # serves the last version that loaded)
            **({SUPERVISED_WORKER_ENV: "1"} if self.workers > 1 else {}),
        }

    def worker_pids(self) -> list[int]:
        """The processes that serve requests: uvicorn's workers under `workers > 1` (found in Linux's
        /proc), else the receiver process itself."""
        assert self.process is not None
        if self.workers == 1:
            return [self.process.pid]
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        # uvicorn's supervisor also has multiprocessing's resource tracker as a child
        return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing gets to clean up."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@dataclass
class WebProcess(_UvicornProcess):
    """`attro web` as its own uvicorn process on a free port (`web.app:create_app --factory`), for
    benchmarks: the admin password and other ATTRO_* variables come from `env`."""

    APP: ClassVar[str] = "web.app:create_app"
    PROBE: ClassVar[str] = "/admin/login"
    NAME: ClassVar[str] = "attro web"
    LOG_NAME: ClassVar[str] = "web"

    settings: Settings
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    startup_seconds: float = 30.0
    process: subprocess.Popen[bytes] | None = None
