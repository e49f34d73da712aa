"""Benchmarks: ``python -m handkit bench <name>`` prints figures.

Speed targets live here, not in unit tests."""
