"""Shared core: settings, the program file, click ids and the `attro` command line."""
