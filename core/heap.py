"""Python's cyclic garbage collector and a long-lived process's start-up objects: freeze them once.

Standard library only: the receiver's landing processes import it.

A server imports FastAPI, pydantic, Starlette and (the receiver) the stripe library before it answers
its first request: about 100k objects that every full collection walks again. Under load the
collector runs one every few seconds, and on a 2-core machine each took 75-100 ms with the whole
process stopped (measured in the receiver during one 43 s webhook benchmark: 14 of them, 77-97 ms
each); that was the webhook route's closed-loop p99. A pipeline run's imports (Dagster, dlt and the
rest) leave about 225k. Frozen, what start-up made is still freed when nothing refers to it, and a
full collection walks only what came after (about 2 ms in the receiver); only a reference cycle among
frozen objects would never be freed.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


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


def settle_imports() -> None:
    """Exempt every object alive now from the collector, for good, without a collection first: called
    by a process that has imported the pipeline's libraries and is about to run it (a Dagster run
    worker; `attro run` through `settled_imports`, again once it has imported Dagster to record the
    run). Loading 300k events' landing: 0.3-0.5 s less wall time. Not called by run_pipeline, which a
    test process calls again and again mid-suite and would freeze whatever cyclic garbage it held then;
    pipelines.definitions calls it at import, which a test process does once, while collecting, before
    any test has run."""
    gc.freeze()


@contextmanager
def settled_imports() -> Iterator[None]:
    """The collector off while the block imports (full collections would walk the growing heap again
    and again: about 0.1 s of `attro run`), on again after it; what it imported is then settled."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
    settle_imports()
