"""The tables the README and the experiments' READMEs print match the committed result files
they were copied from (numbers to the printed 0.1 mm)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handkit.experiments.ablation import committed_ablation, read_ablation

REPO = Path(__file__).resolve().parents[1]
VARIANT = re.compile(r"\(`(\w+)`\)|\(Table I run\)|\(no network\)")


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+\.\d", text)]


def test_the_readme_ablation_table_matches_the_committed_rows():
    rows = read_ablation(committed_ablation())
    cell = {(r["seed"], r["variant"], r["mode"], r["distance"]): r for r in rows}
    lines = [line for line in (REPO / "README.md").read_text().splitlines()
             if line.startswith("| ") and ("frames from a label" in line or VARIANT.search(line))]
    table = [line for line in lines if VARIANT.search(line)]
    assert len(table) == 6, lines
    for line in table:
        name, near, overall = (part.strip() for part in line.strip("|").split("|"))
        found = VARIANT.search(name)
        variant = found.group(1) or "table1"
        if "no network" in name:
            want = cell[0, "table1", "copy", "1-15"]
            expected = [want["mpjpe"], want["ci_low"], want["ci_high"],
                        cell[0, "table1", "copy", "all"]["mpjpe"]]
        else:
            expected = []
            for seed in (0, 1):
                r = cell[seed, variant, "propagation", "1-15"]
                expected += [r["mpjpe"], r["ci_low"], r["ci_high"]]
            expected += [cell[seed, variant, "propagation", "all"]["mpjpe"] for seed in (0, 1)]
        assert _numbers(near + " " + overall) == pytest.approx(expected, abs=0.051), line


def test_the_motion_sweep_readme_holds_the_committed_summary():
    from handkit.experiments.motion_sweep import committed_motion_sweep, read_long, summary_table

    readme = (REPO / "experiments" / "sweep_motion_k" / "README.md").read_text()
    assert summary_table(read_long(committed_motion_sweep())) in readme
