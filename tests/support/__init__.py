"""Helpers the tests share (sites, ledger books, frame builders): imported, never copied."""
