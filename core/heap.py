"""Keeping a serving process's start-up objects out of Python's full garbage collections.

Standard library only: the receiver's landing processes import it.

A server imports FastAPI, pydantic, Starlette and (the receiver) the stripe library before it answers
its first request: about 100k objects that every full collection walks again. Under load the
collector runs one every few seconds, and on a 2-core machine each took 75-100 ms with the whole
process stopped (measured in the receiver during one 43 s webhook benchmark: 14 of them, 77-97 ms
each); that was the webhook route's closed-loop p99. Collected once and frozen, what start-up made
is still freed when nothing refers to it, and a full collection walks only what requests made since
(about 2 ms).
"""

from __future__ import annotations

import gc
import threading


def freeze_startup_heap() -> None:
    """Collect the garbage start-up left, then exempt every object alive now from the cyclic collector.

    Call it once, in a process whose start-up is over (a server, a load generator); not in a test
    process that builds apps again and again (it would keep the cyclic garbage of each for good).
    """
    gc.collect()
    gc.freeze()


def freeze_if_serving() -> None:
    """freeze_startup_heap() when called on the process's main thread, as an app's start-up is under
    uvicorn; nothing on another thread, as under a test client in a test process."""
    if threading.current_thread() is threading.main_thread():
        freeze_startup_heap()
