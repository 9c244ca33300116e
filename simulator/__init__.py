"""Test tooling, not product: Stripe simulator, receiver launcher, landing builders (demo, tests, bench)."""
