"""Run a command to its end from a small process of its own, and report its wall time and peak RSS.

A child that subprocess starts (vfork, then exec) is charged the peak RSS of the process that started
it when that was higher: on exec the kernel keeps the larger of the two as the child's ru_maxrss. Run
from a benchmark process that has grown (`make bench` runs every benchmark in one process: at 25k
events every attro run and every baseline showed the same 1.30 GB, the parent's own peak), the
figure is the parent's. `launch` runs this file as a fresh interpreter without site-packages (a few
MB), which starts the command, waits for it and prints its figures as JSON:

    python -I -S benchmarks/launch.py OUTPUT_FILE COMMAND...
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def launch(command: list[str], env: dict[str, str] | None, cwd: Path) -> tuple[float, int, int, str]:
    """(wall seconds, peak RSS in bytes, exit code, output) of `command`, started by the launcher."""
    with tempfile.NamedTemporaryFile(suffix=".log") as log:
        done = subprocess.run(
            [sys.executable, "-I", "-S", __file__, log.name, *command],
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        output = Path(log.name).read_bytes().decode(errors="replace")
    return figures["seconds"], figures["peak_rss"], figures["code"], output


def main(argv: list[str]) -> int:
    output, command = argv[0], argv[1:]
    with open(output, "wb") as log:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"seconds": seconds, "peak_rss": usage.ru_maxrss * 1024, "code": code}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
