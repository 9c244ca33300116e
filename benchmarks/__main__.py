"""`python -m benchmarks`: run every benchmark (today: the webhook load benchmark)."""

from __future__ import annotations

import sys

from benchmarks.webhook_load import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
