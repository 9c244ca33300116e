"""Shared plumbing for the pipelines: the build database, the run lock and publishing."""
