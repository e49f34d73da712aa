"""handkit.course.run: papermill runs on tiny throwaway notebooks, and the results table."""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from pathlib import Path

import nbformat
import pytest

from handkit.course.kernels import NotebookRunError, _CurrentEnvKernelManager
from handkit.course.run import execute_in_place, run_notebooks
from handkit.course.run_cli import (
    KEY_NUMBERS,
    format_results_table,
    format_summary,
    key_numbers,
    main,
)

PARAMETERS = 'scale = 2\nout_json = "default.json"'
WRITE_JSON = (
    "json.dump({'doubled': 2 * scale, 'label': 'x', 'nested': {'half': scale / 2},"
    " 'cwd': os.getcwd()}, open(out_json, 'w'))"
)


def make_notebook(path, *cells, parameters=PARAMETERS):
    """Write a notebook: an imports cell, a cell tagged 'parameters', then `cells`."""
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": kernelspec})
    nb.cells = [
        nbformat.v4.new_code_cell("import json\nimport os"),
        nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        *(nbformat.v4.new_code_cell(source) for source in cells),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


@pytest.mark.notebook
def test_run_notebooks_collects_the_json_each_notebook_writes(tmp_path):
    first = make_notebook(tmp_path / "nbs" / "first.ipynb", WRITE_JSON)
    second = make_notebook(tmp_path / "nbs" / "second.ipynb", WRITE_JSON)
    out_dir = tmp_path / "out"
    lines = []

    results = run_notebooks([first, second], out_dir, {"scale": 5}, kernel=None, log=lines.append)

    expected = {"doubled": 10, "label": "x", "nested": {"half": 2.5}, "cwd": str(first.parent)}
    assert results == {"first": expected, "second": expected}
    for stem in ("first", "second"):
        assert json.loads((out_dir / f"{stem}.json").read_text()) == expected
        executed = nbformat.read(out_dir / f"{stem}.ipynb", as_version=4)
        assert executed.metadata.papermill.parameters["scale"] == 5
    # out_json was redirected into out_dir: nothing at the notebook's default path
    assert not (first.parent / "default.json").exists()
    assert lines[0] == "[1/2] first.ipynb ..."
    assert lines[-1].startswith("[2/2] second.ipynb done in ")


@pytest.mark.notebook
def test_failing_cell_is_reported_with_notebook_and_cell(tmp_path):
    nb = make_notebook(tmp_path / "broken.ipynb", "x = 1", "raise ValueError('boom')")
    # In [5]: papermill adds a cell with the injected parameters after the parameters cell
    expected = r"broken\.ipynb failed at In \[5\], the cell starting \"raise .*ValueError: boom"
    with pytest.raises(NotebookRunError, match=expected):
        run_notebooks([nb], tmp_path / "out", kernel=None)
    assert (tmp_path / "out" / "broken.ipynb").is_file()  # kept, with the traceback, to inspect


@pytest.mark.notebook
def test_notebook_that_writes_no_json_is_an_error(tmp_path):
    nb = make_notebook(tmp_path / "silent.ipynb", "y = scale")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "silent.json").write_text("{}")  # left by an earlier run: must not count
    expected = r"silent\.ipynb ran but did not write .*silent\.json"
    with pytest.raises(NotebookRunError, match=expected):
        run_notebooks([nb], tmp_path / "out", kernel=None)


@pytest.mark.notebook
def test_notebook_that_writes_a_list_is_an_error(tmp_path):
    nb = make_notebook(tmp_path / "listy.ipynb", "json.dump([1, 2], open(out_json, 'w'))")
    with pytest.raises(NotebookRunError, match="wrote list .* expected a JSON object"):
        run_notebooks([nb], tmp_path / "out", kernel=None)


def test_unknown_parameter_is_refused_before_anything_runs(tmp_path):
    nb = make_notebook(tmp_path / "tiny.ipynb", WRITE_JSON)
    with pytest.raises(ValueError, match=r"tiny\.ipynb: unknown parameter\(s\) \['scael'\]"):
        run_notebooks([nb], tmp_path / "out", {"scael": 3}, kernel=None)
    assert not (tmp_path / "out").exists()


def test_out_json_cannot_be_overridden(tmp_path):
    nb = make_notebook(tmp_path / "tiny.ipynb", WRITE_JSON)
    with pytest.raises(ValueError, match="'out_json' is chosen by run_notebooks"):
        run_notebooks([nb], tmp_path / "out", {"out_json": "x.json"}, kernel=None)


def test_notebook_without_out_json_parameter_is_refused(tmp_path):
    nb = make_notebook(tmp_path / "tiny.ipynb", "pass", parameters="scale = 2")
    with pytest.raises(ValueError, match="does not define 'out_json'"):
        run_notebooks([nb], tmp_path / "out", kernel=None)


def test_missing_kernel_is_named(tmp_path):
    nb = make_notebook(tmp_path / "tiny.ipynb", WRITE_JSON)
    with pytest.raises(NotebookRunError, match="'no-such-kernel-for-handkit' is not installed"):
        run_notebooks([nb], tmp_path / "out", kernel="no-such-kernel-for-handkit")


def test_missing_notebook_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no notebook at .*nowhere.ipynb"):
        run_notebooks([tmp_path / "nowhere.ipynb"], tmp_path / "out", kernel=None)


@pytest.mark.notebook
def test_command_line_runs_notebooks_and_prints_a_short_table(tmp_path, capfd):
    nb = make_notebook(tmp_path / "tiny.ipynb", WRITE_JSON)
    out_dir = tmp_path / "run"

    code = main([str(nb), "-p", "scale", "3", "--out-dir", str(out_dir), "--current-env"])

    captured = capfd.readouterr()  # the file descriptors: the kernel's own stderr too
    assert code == 0
    assert "[1/1] tiny.ipynb ..." in captured.err
    assert "without encryption" not in captured.err and "WARNING" not in captured.err
    assert f"every number: {out_dir / 'results.txt'}" in captured.err
    assert captured.out.splitlines() == [
        f"tiny: 2 of 2 numbers (all in {out_dir / 'tiny.json'})",
        "  doubled        6",
        "  nested.half  1.5",
    ]
    table = (out_dir / "results.txt").read_text().splitlines()
    assert table[2].split() == ["tiny", "doubled", "6"]
    assert table[3].split() == ["tiny", "nested.half", "1.5"]


def test_summary_shows_the_key_numbers_and_says_where_the_rest_is():
    results = {"07_evaluation": {"frames": 90, "mpjpe": {"Copy": 20.5, "Propagation": 14.25},
                                 "one_frame": {"x": 1.0}, "seed": 0},
               "other": {f"n{i}": i for i in range(9)}}
    lines = format_summary(results, "runs/t").splitlines()
    assert lines[:4] == ["07_evaluation: 3 of 5 numbers (all in runs/t/07_evaluation.json)",
                         "  frames                90", "  mpjpe.Copy          20.5",
                         "  mpjpe.Propagation  14.25"]
    assert lines[5] == "other: 5 of 9 numbers (all in runs/t/other.json)"
    assert [line.split()[0] for line in lines[6:]] == ["n0", "n1", "n2", "n3", "n4"]
    assert key_numbers("01_mano_basics", {"seed": 0}) == []


def test_every_key_number_is_written_by_its_notebook():
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    assert sorted(KEY_NUMBERS) == sorted(path.stem for path in notebooks.glob("*.ipynb"))
    for name, keys in KEY_NUMBERS.items():
        source = "".join("".join(cell["source"]) for cell in nbformat.read(
            notebooks / f"{name}.ipynb", as_version=4).cells)
        missing = [key for key in keys if f'"{key}"' not in source]
        assert not missing, f"{name} writes no {missing}"


def test_command_line_refuses_an_out_dir_that_is_a_file(tmp_path, capsys):
    nb = make_notebook(tmp_path / "tiny.ipynb", WRITE_JSON)
    (tmp_path / "taken").write_text("")
    assert main([str(nb), "--out-dir", str(tmp_path / "taken"), "--current-env"]) == 1
    err = capsys.readouterr().err
    assert err == f"handkit run: --out-dir {tmp_path / 'taken'} is a file, expected a folder\n"


@pytest.mark.notebook
def test_command_line_failure_exits_non_zero_naming_the_notebook(tmp_path, capsys):
    nb = make_notebook(tmp_path / "broken.ipynb", "1 / 0")
    code = main([str(nb), "--out-dir", str(tmp_path / "run"), "--current-env"])
    assert code == 1
    expected = "FAILED: broken.ipynb failed at In [4], the cell starting '1 / 0'"
    assert expected in capsys.readouterr().err


def test_command_line_without_notebooks_fails(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main([]) == 1
    assert "no notebooks given and none in" in capsys.readouterr().err


@pytest.fixture
def test_kernel(tmp_path, monkeypatch):
    """Name of a Jupyter kernel, installed for this test only, that runs this Python."""
    spec_dir = tmp_path / "jupyter" / "kernels" / "handkit-test"
    spec_dir.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec = {"argv": argv, "display_name": "Python (handkit test)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return "handkit-test"


@pytest.mark.notebook
def test_execute_in_place_saves_a_stable_executed_notebook(tmp_path, test_kernel):
    # an Output widget written to during execution: nbclient's hook for it needs widget state
    widget = (
        "import ipywidgets\nout = ipywidgets.Output()\nwith out:\n    print('inside')\n"
        "ipywidgets.VBox([ipywidgets.IntSlider(), out])"
    )
    nb = make_notebook(tmp_path / "nbs" / "tiny.ipynb", "print(2 * scale)", WRITE_JSON, widget)

    execute_in_place([nb], test_kernel)

    executed = nbformat.read(nb, as_version=4)
    assert executed.metadata.kernelspec.name == "handkit-test"
    assert "widgets" not in executed.metadata  # no widget state
    assert [cell.execution_count for cell in executed.cells] == [1, 2, 3, 4, 5]
    assert executed.cells[2].outputs[0].text == "4\n"
    (shown,) = executed.cells[4].outputs
    assert list(shown.data) == ["text/plain"]  # the view (no state to show) is dropped
    assert shown.data["text/plain"].startswith("VBox(")
    assert all("execution" not in cell.metadata for cell in executed.cells)  # no timestamps
    assert json.loads((nb.parent / "default.json").read_text())["doubled"] == 4
    first_bytes = nb.read_bytes()
    execute_in_place([nb], test_kernel)
    assert nb.read_bytes() == first_bytes


@pytest.mark.notebook
@pytest.mark.skipif(os.name != "posix", reason="Unix sockets: Linux and macOS only")
def test_headless_kernels_use_private_unix_sockets_not_tcp_ports():
    async def start_ask_and_stop():
        manager = _CurrentEnvKernelManager(kernel_name="any")
        await manager.start_kernel(cwd=str(Path.cwd().anchor))  # kernel in another folder
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            reply = await client.execute("1 + 1", reply=True, timeout=60)
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)
        return manager, reply

    manager, reply = asyncio.run(start_ask_and_stop())
    assert reply["content"]["status"] == "ok"
    assert manager.transport == "ipc"
    socket_folder = Path(manager.ip).parent
    assert socket_folder.is_absolute() and len(manager.ip) < 90
    assert not socket_folder.exists()  # the sockets' folder went with the kernel


@pytest.mark.notebook
def test_execute_in_place_leaves_a_failing_notebook_unchanged(tmp_path, test_kernel):
    nb = make_notebook(tmp_path / "broken.ipynb", "raise KeyError('gone')")
    before = nb.read_bytes()
    expected = r"broken\.ipynb failed at In \[3\], the cell starting \"raise KeyError.*gone"
    with pytest.raises(NotebookRunError, match=expected):
        execute_in_place([nb], test_kernel)
    assert nb.read_bytes() == before


def test_in_place_refuses_parameters(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--in-place", "-p", "seed", "1"])
    assert exit_info.value.code == 2
    assert "--in-place runs the defaults" in capsys.readouterr().err


def test_table_lists_scalar_numbers_with_dotted_keys():
    table = format_results_table(
        {
            "01_a": {"n": 778, "err": 1.23456789, "nested": {"f5": 0.5, "deep": {"x": -2}}},
            "02_b": {"label": "text", "flag": True, "values": [1, 2], "none": None, "big": 1e9},
        }
    )
    rows = [line.split() for line in table.splitlines()]
    assert rows[0] == ["notebook", "key", "value"]
    assert rows[2:] == [
        ["01_a", "n", "778"],
        ["01_a", "err", "1.235"],
        ["01_a", "nested.f5", "0.5"],
        ["01_a", "nested.deep.x", "-2"],
        ["02_b", "big", "1e+09"],
    ]


def test_table_columns_line_up_and_values_are_right_aligned():
    lines = format_results_table({"nb": {"a": 1, "long_key_name": 123.25}}).splitlines()
    assert lines[2].index("a") == lines[3].index("long_key_name") == lines[0].index("key")
    assert len(lines[2]) == len(lines[3]) == len(lines[1])  # values end at the same column


def test_table_shows_non_finite_numbers_and_notebooks_without_numbers():
    table = format_results_table({"nb": {"loss": math.nan, "up": math.inf}, "empty": {"s": "x"}})
    rows = [line.split() for line in table.splitlines()[2:]]
    assert rows == [["nb", "loss", "nan"], ["nb", "up", "inf"], ["empty", "(no", "numbers)"]]


def test_table_of_nothing_says_so():
    assert format_results_table({}) == "(no results)"


@pytest.mark.notebook
def test_a_cell_that_runs_too_long_stops_the_run(tmp_path, test_kernel, monkeypatch):
    monkeypatch.setattr("handkit.course.run.CELL_TIMEOUT_S", 2)
    slow = make_notebook(tmp_path / "slow.ipynb", "import time\ntime.sleep(60)", WRITE_JSON)
    before = slow.read_bytes()
    with pytest.raises(NotebookRunError, match=r"slow\.ipynb.*longer than 2 s"):
        execute_in_place([slow], test_kernel)
    assert slow.read_bytes() == before
    with pytest.raises(NotebookRunError, match=r"slow\.ipynb"):
        run_notebooks([slow], tmp_path / "out", kernel=None)
