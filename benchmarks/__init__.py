"""Benchmarks (`make bench`): each figure printed beside its baseline measured in the same run."""
