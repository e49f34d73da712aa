"""handkit.experiments.sweep: sweeps of tiny throwaway notebooks, and one real 2 x 2 sweep of
notebook 02."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re
from pathlib import Path

import plotly.graph_objects as go
import pytest

from handkit.course import run_cli
from handkit.experiments.sweep import POINT_FILE, _earlier_outcome, main, run_sweep
from handkit.experiments.sweep_plan import (
    SweepPoint,
    load_grid_file,
    parse_grid_option,
    plan_sweep,
    point_folder_name,
)
from handkit.viz.sweep import sweep_figure
from tests.test_notebook_runner import make_notebook

REPO = Path(__file__).resolve().parents[1]

PARAMETERS = 'a = 1  # an int\nb = 0.5  # a float\nmode = "x"  # a string\nout_json = "d.json"'
#: Appends a line to runs.txt in the point's folder at every run of the point.
COUNT_RUNS = (
    "with open(os.path.join(os.path.dirname(out_json), 'runs.txt'), 'a') as f:\n"
    "    f.write('run\\n')"
)
FAIL_AT_2_05 = "if a == 2 and b == 0.5:\n    raise ValueError('boom')"
WRITE_JSON = (
    "json.dump({'sum': a + b, 'nested': {'prod': a * b}, 'mode': mode, 'a': a,"
    " 'threads': int(os.environ.get('OMP_NUM_THREADS', '0'))}, open(out_json, 'w'))"
)
GRID_2X2 = ["--grid", "a=1,2", "b=0.5,1.5"]
FOLDERS_2X2 = ["a=1__b=0.5", "a=1__b=1.5", "a=2__b=0.5", "a=2__b=1.5"]


def tiny(path: Path, *, failing: bool = False) -> Path:
    """A notebook with parameters a (int), b (float), mode (str); fails at a=2, b=0.5 if asked."""
    cells = [COUNT_RUNS, FAIL_AT_2_05, WRITE_JSON] if failing else [COUNT_RUNS, WRITE_JSON]
    return make_notebook(path, *cells, parameters=PARAMETERS)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def runs_of(folder: Path) -> int:
    return len((folder / "runs.txt").read_text().splitlines())


@pytest.fixture(scope="module")
def one_worker_sweep(tmp_path_factory):
    """A 2 x 2 sweep through the command line with one worker: (out folder, exit code, stderr)."""
    root = tmp_path_factory.mktemp("sweep1")
    nb = tiny(root / "nbs" / "tiny.ipynb")
    out = root / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["--notebook", str(nb), *GRID_2X2, "--out", str(out), "--current-env"])
    return out, code, err.getvalue()


@pytest.mark.notebook
def test_2x2_sweep_keeps_every_point_and_writes_table_and_figure(one_worker_sweep):
    out, code, err = one_worker_sweep
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == FOLDERS_2X2
    for folder in FOLDERS_2X2:
        for name in ("tiny.ipynb", "tiny.json", POINT_FILE):
            assert (out / folder / name).is_file(), (folder, name)
        record = json.loads((out / folder / POINT_FILE).read_text())
        assert record["status"] == "ok" and record["parameters"] == {
            "a": int(folder[2]), "b": float(folder.split("b=")[1])}
    rows = read_csv(out / "results.csv")
    assert list(rows[0])[:7] == ["a", "b", "status", "seconds", "sum", "nested.prod", "result.a"]
    assert list(rows[0])[-3:] == ["folder", "cell", "error"]
    assert "mode" not in rows[0]  # strings are not numbers
    got = [(r["a"], r["b"], r["status"], r["sum"], r["nested.prod"], r["folder"]) for r in rows]
    assert got == [("1", "0.5", "ok", "1.5", "0.5", "a=1__b=0.5"),
                   ("1", "1.5", "ok", "2.5", "1.5", "a=1__b=1.5"),
                   ("2", "0.5", "ok", "2.5", "1.0", "a=2__b=0.5"),
                   ("2", "1.5", "ok", "3.5", "3.0", "a=2__b=1.5")]
    assert all(float(r["seconds"]) > 0 for r in rows)
    html = (out / "results.html").read_text()
    assert "plotly" in html and '"nested.prod"' in html
    png_notes = [line for line in err.splitlines() if line.startswith("PNG")]
    assert len(png_notes) == 1  # written, or skipped with one line
    assert (out / "results.png").is_file() == png_notes[0].startswith("PNG: ")
    assert json.loads((out / "sweep.json").read_text())["grid"] == {"a": [1, 2], "b": [0.5, 1.5]}


@pytest.mark.notebook
def test_two_workers_give_the_same_results_with_the_threads_split(
        one_worker_sweep, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    nb = tiny(tmp_path / "nbs" / "tiny.ipynb")
    outcome = run_sweep(nb, {"a": [1, 2], "b": [0.5, 1.5]}, tmp_path / "out", workers=2,
                        kernel=None, progress=False)
    assert not outcome.failed

    def comparable(rows):
        return [{k: v for k, v in row.items() if k not in ("seconds", "threads")} for row in rows]

    rows_2 = read_csv(outcome.csv_path)
    rows_1 = read_csv(one_worker_sweep[0] / "results.csv")
    assert comparable(rows_2) == comparable(rows_1)
    assert {row["threads"] for row in rows_2} == {"2"}  # 4 threads / 2 workers
    assert {p.record["omp_num_threads"] for p in outcome.points} == {"2"}


@pytest.mark.notebook
def test_failed_point_is_reported_the_others_finish_and_a_rerun_redoes_only_it(
        tmp_path, capsys):
    nb = tiny(tmp_path / "nbs" / "tiny.ipynb", failing=True)
    out = tmp_path / "out"
    command = ["--notebook", str(nb), *GRID_2X2, "--out", str(out), "--current-env"]

    assert main(command) == 1
    err = capsys.readouterr().err
    assert "1 of 4 point(s) failed" in err
    report = err[err.index("1 of 4 point(s) failed"):]
    assert ("a=2, b=0.5: tiny.ipynb failed at In [5], the cell starting "
            "'if a == 2 and b == 0.5:': ValueError: boom") in report
    assert "a=2__b=0.5/tiny.ipynb" in report  # where to read the traceback
    rows = {row["folder"]: row for row in read_csv(out / "results.csv")}
    assert [rows[f]["status"] for f in FOLDERS_2X2] == ["ok", "ok", "failed", "ok"]
    failed = rows["a=2__b=0.5"]
    assert failed["sum"] == "" and failed["error"] == "ValueError: boom"
    assert failed["cell"] == "In [5], the cell starting 'if a == 2 and b == 0.5:'"
    assert [(out / f / "tiny.json").is_file() for f in FOLDERS_2X2] == [True, True, False, True]

    tiny(nb)  # the notebook is fixed
    assert main(command) == 0
    err = capsys.readouterr().err
    assert "4 points, 3 already done, 1 to run" in err
    assert [runs_of(out / f) for f in FOLDERS_2X2] == [1, 1, 2, 1]
    rows = read_csv(out / "results.csv")
    assert [row["status"] for row in rows] == ["ok"] * 4 and rows[2]["sum"] == "2.5"


def test_an_earlier_point_counts_as_done_only_if_its_parameters_and_json_match(tmp_path):
    nb = tmp_path / "tiny.ipynb"
    point = SweepPoint({"a": 1}, {"b": 0.5, "a": 1}, "a=1")
    folder = tmp_path / "a=1"
    folder.mkdir()
    record = {"notebook": "tiny.ipynb", "parameters": {"a": 1, "b": 0.5}, "status": "ok"}
    (folder / POINT_FILE).write_text(json.dumps(record))
    (folder / "tiny.json").write_text('{"sum": 1.5}')
    assert _earlier_outcome(point, folder, nb).results == {"sum": 1.5}
    other_fixed = SweepPoint({"a": 1}, {"b": 1.5, "a": 1}, "a=1")
    assert _earlier_outcome(other_fixed, folder, nb) is None
    assert _earlier_outcome(point, folder, tmp_path / "other.ipynb") is None
    (folder / POINT_FILE).write_text(json.dumps({**record, "status": "failed"}))
    assert _earlier_outcome(point, folder, nb) is None
    (folder / POINT_FILE).write_text(json.dumps(record))
    (folder / "tiny.json").unlink()
    assert _earlier_outcome(point, folder, nb) is None


@pytest.mark.parametrize(
    ("grid", "expected"),
    [
        (["a=1,2", "c=3"], r"tiny\.ipynb: unknown parameter\(s\) \['c'\]"),
        (["a=1,0.5"], r"wrong type: a=0\.5 is float, but the notebook declares int \(a = 1\)"),
        (["b='text'"], r"b='text' is str, but the notebook declares float \(b = 0\.5\)"),
        (["mode=1,2"], r"mode=1 is int, but the notebook declares str"),
        (["a=True"], r"a=True is bool, but the notebook declares int"),
    ],
)
def test_unknown_names_and_wrong_types_are_refused_before_any_run(
        tmp_path, capsys, grid, expected):
    nb = tiny(tmp_path / "tiny.ipynb")
    out = tmp_path / "out"
    assert main(["--notebook", str(nb), "--grid", *grid, "--out", str(out), "--current-env"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("handkit sweep: refused:")
    assert re.search(expected, err)
    # the notebook's parameters with their defaults and types
    assert "a = 1       (int)    an int" in err and "b = 0.5     (float)  a float" in err
    assert 'mode = "x"  (str)    a string' in err and "out_json" not in err
    assert not out.exists()


def test_plan_coerces_ints_for_floats_and_refuses_duplicates_and_clashes(tmp_path):
    nb = tiny(tmp_path / "tiny.ipynb")
    plan = plan_sweep(nb, {"b": [0, 1]}, {"a": 3})
    assert [p.parameters for p in plan.points] == [{"a": 3, "b": 0.0}, {"a": 3, "b": 1.0}]
    assert [p.folder for p in plan.points] == ["b=0.0", "b=1.0"]
    with pytest.raises(ValueError, match=r"grid b lists 1\.0 twice"):
        plan_sweep(nb, {"b": [1, 1.0]})
    with pytest.raises(ValueError, match=r"\['a'\] both swept \(grid\) and fixed"):
        plan_sweep(nb, {"a": [1, 2]}, {"a": 3})
    with pytest.raises(ValueError, match="'out_json' is chosen by"):
        plan_sweep(nb, {"a": [1]}, {"out_json": "x.json"})
    with pytest.raises(ValueError, match="nothing to sweep"):
        plan_sweep(nb, {})
    with pytest.raises(FileNotFoundError, match="no notebook at"):
        plan_sweep(tmp_path / "nowhere.ipynb", {"a": [1]})


def test_run_parameter_of_the_wrong_type_is_refused(tmp_path, capsys):
    nb = tiny(tmp_path / "tiny.ipynb")
    out = tmp_path / "run"
    code = run_cli.main([str(nb), "-p", "a", "0.5", "--out-dir", str(out), "--current-env"])
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("handkit run: tiny.ipynb: wrong type: a=0.5 is float, but the notebook "
                          "declares int")
    assert "b = 0.5     (float)  a float" in err
    assert not out.exists()


def test_grid_values_are_python_literals():
    assert parse_grid_option("lambda_align=0,0.01,0.1,1") == ("lambda_align", [0, 0.01, 0.1, 1])
    assert parse_grid_option("x=True,None,'a b',[1, 2]") == ("x", [True, None, "a b", [1, 2]])
    assert parse_grid_option("split=train,val") == ("split", ["train", "val"])
    for bad in ("label_every", "=1,2", "k=", "k=1,,2"):
        with pytest.raises(ValueError, match="NAME=V1,V2|empty value"):
            parse_grid_option(bad)


def test_folder_names_show_the_values_and_stay_distinct(tmp_path):
    assert point_folder_name({"k": -1, "s": "a/b c", "x": None}) == "k=-1__s=a_b_c__x=None"
    assert len(point_folder_name({"s": "x" * 300})) == 120
    nb = tiny(tmp_path / "tiny.ipynb")
    folders = [p.folder for p in plan_sweep(nb, {"mode": ["a b", "a_b"]}).points]
    assert folders[0] != folders[1] and all(f.startswith("mode=a_b-") for f in folders)


GRID_YAML = """
fixed:
  b: 1.5
grid:
  a: [1, 2]
"""
GRID_TOML = """
[fixed]
b = 1.5
[grid]
a = [1, 2]
"""


@pytest.mark.parametrize(("name", "text"), [("g.yaml", GRID_YAML), ("g.toml", GRID_TOML)])
def test_grid_file_reads_fixed_and_grid(tmp_path, name, text):
    (tmp_path / name).write_text(text)
    assert load_grid_file(tmp_path / name) == ({"b": 1.5}, {"a": [1, 2]})


def test_grid_file_mistakes_are_named(tmp_path):
    cases = {
        "scalar.yaml": ("grid:\n  a: 3\n", r"grid\.a must be a non-empty list"),
        "keys.yaml": ("grids:\n  a: [1]\n", r"keys 'fixed' and 'grid'; found \['grids'\]"),
        "broken.toml": ("[grid\n", "cannot read it as TOML"),
        "grid.json": ("{}", r"ends in \.yaml, \.yml or \.toml"),
    }
    for name, (text, expected) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=expected):
            load_grid_file(tmp_path / name)


def test_a_yaml_number_read_as_text_is_refused_with_a_hint(tmp_path):
    nb = tiny(tmp_path / "tiny.ipynb")
    (tmp_path / "g.yaml").write_text("grid:\n  b: [1e-3, 0.5]\n")
    fixed, grid = load_grid_file(tmp_path / "g.yaml")
    with pytest.raises(ValueError, match="b='1e-3' is str.*YAML reads 1e-3 as text"):
        plan_sweep(nb, grid, fixed)


def test_the_example_grid_file_fits_notebook_02():
    fixed, grid = load_grid_file(REPO / "experiments" / "grid_example.yaml")
    plan = plan_sweep(REPO / "notebooks" / "02_sparse_videos.ipynb", grid, fixed)
    assert len(plan.points) == 16


@pytest.mark.notebook
def test_grid_file_sweep_with_a_command_line_override(tmp_path, capsys):
    nb = tiny(tmp_path / "nbs" / "tiny.ipynb")
    (tmp_path / "grid.yaml").write_text(GRID_YAML + "  mode: [p, q]\n")
    out = tmp_path / "out"
    code = main(["--notebook", str(nb), "--grid-file", str(tmp_path / "grid.yaml"),
                 "--grid", "mode=r", "-p", "b", "2", "--out", str(out), "--current-env"])
    assert code == 0, capsys.readouterr().err
    rows = read_csv(out / "results.csv")
    assert [(r["a"], r["mode"], r["b"], r["sum"]) for r in rows] == [
        ("1", "r", "2.0", "3.0"), ("2", "r", "2.0", "4.0")]


def test_figure_has_a_line_per_group_and_a_menu_of_metrics():
    rows = [{"k": k, "lam": lam, "mpjpe": k + lam, "f5": None if k == 64 else 0.5}
            for k in (32, 64) for lam in (0.0, 0.1, 1.0)]
    fig = sweep_figure(rows, swept=["k", "lam"], metrics=["mpjpe", "f5"], title="t")
    assert isinstance(fig, go.Figure) and len(fig.data) == 2 * 3
    assert [trace.name for trace in fig.data[:3]] == ["lam=0.0", "lam=0.1", "lam=1.0"]
    assert list(fig.data[0].x) == ["32", "64"] and list(fig.data[1].y) == [32.1, 64.1]
    assert list(fig.data[3].y) == [0.5, None]  # a missing number is a gap
    assert [trace.visible for trace in fig.data] == [True] * 3 + [False] * 3
    buttons = fig.layout.updatemenus[0].buttons
    assert [b.label for b in buttons] == ["mpjpe", "f5"]
    assert buttons[1].args[0]["visible"] == [False] * 3 + [True] * 3
    single = sweep_figure(rows[:3], swept=["lam"], metrics=["mpjpe"])
    assert len(single.data) == 1 and not single.layout.updatemenus


@pytest.mark.notebook
@pytest.mark.slow
def test_tiny_2x2_sweep_of_notebook_08_through_the_command_line(tmp_path, capsys, monkeypatch):
    """What CI runs: the K x lambda_align experiment at tiny settings, 2 x 2, two workers."""
    monkeypatch.chdir(REPO)
    out = tmp_path / "sweep-08"
    code = main(["--notebook", "notebooks/08_experiments.ipynb",
                 "--grid", "label_every=32,64", "lambda_align=0,1",
                 "-p", "num_videos", "8", "-p", "num_frames", "128", "-p", "stage1_steps", "4",
                 "-p", "stage2_steps", "2", "-p", "stage3_steps", "2", "-p", "batch_size", "8",
                 "--workers", "2", "--out", str(out), "--current-env"])
    assert code == 0, capsys.readouterr().err
    rows = read_csv(out / "results.csv")
    assert [(r["label_every"], r["lambda_align"], r["status"]) for r in rows] == [
        ("32", "0.0", "ok"), ("32", "1.0", "ok"), ("64", "0.0", "ok"), ("64", "1.0", "ok")]
    for row in rows:  # each point ran with its own parameters
        assert (row["result.label_every"], row["result.lambda_align"]) == (
            row["label_every"], row["lambda_align"])
        values = [float(row[f"mpjpe.{m}"]) for m in ("Baseline", "Propagation", "Interpolation",
                                                      "Fused")]
        assert all(math.isfinite(v) and v > 0 for v in values), row
    frames = {r["label_every"]: int(r["frames"]) for r in rows}
    assert frames["32"] < frames["64"]  # more labels at K = 32: fewer unlabelled frames
    k32 = next(r for r in rows if r["label_every"] == "32")
    assert k32["by_distance.Propagation.32-64"] == ""  # no frame that far: a gap, not NaN
    assert float(k32["by_distance.Propagation.1-15"]) > 0
    for row in rows:  # intervals over the 2 test videos, and paired differences
        for method in ("Propagation", "Interpolation"):
            mean = float(row[f"mpjpe.{method}"])
            assert float(row[f"ci_low.{method}.all"]) <= mean <= float(row[f"ci_high.{method}.all"])
        gap = float(row["mpjpe.Propagation"]) - float(row["mpjpe.Interpolation"])
        paired = {end: float(row[f"paired.Propagation - Interpolation.all.{end}"])
                  for end in ("low", "difference", "high")}
        assert paired["difference"] == pytest.approx(gap, abs=1e-3)
        assert paired["low"] <= paired["difference"] <= paired["high"]
    assert k32["paired.Propagation - Copy nearest label.32-64.difference"] == ""
    assert (out / "results.html").is_file()
