"""Structured log lines: one JSON object per line via std logging; never secrets or raw IPs."""

from __future__ import annotations

import json
import logging
from typing import Any


def log_json(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log `{"event": event, **fields}` as one compact JSON line."""
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"event": event, **fields}, default=str, ensure_ascii=False))
