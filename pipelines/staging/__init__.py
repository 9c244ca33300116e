"""Staging: each Stripe event decoded once, when it is loaded, into typed append-only tables."""
