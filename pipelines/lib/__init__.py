"""Shared plumbing for the pipelines: the build database, the run lock, publishing, all-or-none files."""
