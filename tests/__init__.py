"""The test suite: one folder per package it tests; shared helpers in tests/support."""
