"""The benchmarks' peak RSS is the measured command's own, however large the benchmark process grew."""

from __future__ import annotations

import subprocess
import sys

# a benchmark process that has grown to 600 MB measures a command that touches 100 MB
PROBE = """
import sys
from benchmarks.pipeline import measure
grown = bytearray(600 * 1024 * 1024)
for i in range(0, len(grown), 4096):
    grown[i] = 1
touch = "x = bytearray(100 * 1024 * 1024)\\nfor i in range(0, len(x), 4096): x[i] = 1"
print(measure([sys.executable, "-c", touch]).peak_rss // 2**20)
"""


def test_a_command_is_charged_its_own_peak_not_the_benchmark_process() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True
    )

    peak_mb = int(done.stdout.strip().splitlines()[-1])

    assert 100 <= peak_mb < 300  # started from the benchmark process itself, it was charged 600+ MB
