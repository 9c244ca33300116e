"""Where the repository's files the tests read live."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEMO_PROGRAM = REPO / "data" / "program.toml"
STRIPE_FIXTURES = REPO / "tests" / "fixtures" / "stripe"  # real Stripe payloads
