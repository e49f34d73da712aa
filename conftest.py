"""Repository-wide pytest set-up: nbval compares what is stable across machines (plotly figures
by structure, printed decimals to their last digits; tests/nbval_stable.py), whichever notebooks
or tests a run collects."""

pytest_plugins = ["tests.nbval_stable"]
