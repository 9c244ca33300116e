"""`python -m benchmarks` (`make bench`): every benchmark, each figure beside its same-run baseline.

`python -m benchmarks webhooks|redirects|landing|landed-ids|pipeline|materialize-all|freshness|web [...]`
runs one of them (`pipeline`, `materialize-all`, `freshness` and `web` at 25k events of history unless
`--events` or `--data` says otherwise); `python -m benchmarks NAME --help` shows its options.
"""

from __future__ import annotations

import sys

from benchmarks import (
    freshness,
    landed_ids,
    landing_load,
    materialize_all,
    pipeline,
    redirects_under_flood,
    web_pages,
    webhook_load,
)

BENCHMARKS = {
    "webhooks": webhook_load.main,
    "redirects": redirects_under_flood.main,
    "landing": landing_load.main,
    "landed-ids": landed_ids.main,
    "pipeline": pipeline.main,
    "materialize-all": materialize_all.main,
    "freshness": freshness.main,
    "web": web_pages.main,
}


def usage() -> str:
    return f"usage: python -m benchmarks [{'|'.join(BENCHMARKS)} [options]]\n\n{__doc__.strip()}"


def main(argv: list[str]) -> int:
    if argv and argv[0] in BENCHMARKS:
        return BENCHMARKS[argv[0]](argv[1:])
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if argv:  # a typo must not start every benchmark (the whole set takes many minutes)
        print(f"{usage()}\n\nerror: no benchmark named {argv[0]!r}", file=sys.stderr)
        return 2
    status = 0
    for name, run in BENCHMARKS.items():
        print(f"== {name} ==", flush=True)
        status |= run([])
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
