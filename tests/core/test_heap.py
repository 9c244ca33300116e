"""Freezing a process's start-up heap (each case in a process of its own: a freeze is for good)."""

from __future__ import annotations

import subprocess
import sys

COLLECTS_THEN_FREEZES = """
import gc, weakref
from core.heap import freeze_startup_heap

class Node:
    pass

kept = [Node() for _ in range(100)]
cycle = Node(); cycle.self = cycle
dead = weakref.ref(cycle)
del cycle
gc.disable()  # nothing may collect the cycle but the function under test
before = gc.get_freeze_count()
freeze_startup_heap()
print(before, gc.get_freeze_count() >= before + 100, dead() is None)
"""

ONLY_ON_THE_MAIN_THREAD = """
import gc, threading
from core.heap import freeze_if_serving

elsewhere = threading.Thread(target=freeze_if_serving)
elsewhere.start(); elsewhere.join()
print(gc.get_freeze_count())
freeze_if_serving()
print(gc.get_freeze_count() > 0)
"""

SETTLED_IMPORTS = """
import gc
from core.heap import settled_imports

try:
    with settled_imports():
        print(gc.isenabled())
        raise ImportError("no such module")
except ImportError:
    print(gc.isenabled(), gc.get_freeze_count())
with settled_imports():
    import json.decoder
    print(gc.isenabled())
print(gc.isenabled(), gc.get_freeze_count() > 0)
"""


def run(script: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_start_up_garbage_is_collected_and_what_is_alive_is_frozen() -> None:
    assert run(COLLECTS_THEN_FREEZES) == ["0", "True", "True"]


def test_only_a_process_s_main_thread_freezes_as_a_server() -> None:
    assert run(ONLY_ON_THE_MAIN_THREAD) == ["0", "True"]


def test_imports_run_without_the_collector_and_are_frozen_after() -> None:
    # a failed import turns the collector back on and freezes nothing
    assert run(SETTLED_IMPORTS) == ["False", "True", "0", "False", "True", "True"]
