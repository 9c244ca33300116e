"""Pipelines: dlt sources that load the landing zone and program file, and the Dagster definitions."""
