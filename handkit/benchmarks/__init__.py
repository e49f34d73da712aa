"""Benchmarks: `python -m handkit bench <name>` prints figures; targets live here, not in unit tests."""
