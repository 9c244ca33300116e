"""A Dagster job for the run launcher's tests: its run process writes down what it sees, then ends,
waits to be terminated, or dies without ending its run."""

import json
import os
import time
from pathlib import Path

import dagster as dg


@dg.op(config_schema={"out": str, "then": str})  # then: "end", "wait" or "die"
def look_around(context: dg.OpExecutionContext) -> None:
    from dlt.common.runtime import anon_tracker

    parent = os.getppid()
    with open(f"/proc/{parent}/cmdline", "rb") as cmdline, open(f"/proc/{parent}/maps") as maps:
        facts = {
            "pid": os.getpid(),
            "parent": parent,
            "parent_command": cmdline.read().replace(b"\0", b" ").decode(),
            "parent_threads": [
                Path(f"/proc/{parent}/task/{task}/comm").read_text().strip()
                for task in os.listdir(f"/proc/{parent}/task")
                if task != str(parent)
            ],
            "parent_has_arrow": "libarrow" in maps.read(),
            "dlt_telemetry": anon_tracker._ANON_TRACKER_ENDPOINT,
            "openblas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
        }
    out = Path(context.op_config["out"])
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(facts), encoding="utf-8")
    partial.replace(out)  # whole or not there: the test polls for it
    if context.op_config["then"] == "die":
        os._exit(3)
    while context.op_config["then"] == "wait":
        time.sleep(0.05)


@dg.job(executor_def=dg.in_process_executor)
def probe() -> None:
    look_around()
