"""Bad input ends every command with one line on stderr and exit status 1, never a traceback.

Each case names the file or flag, the key, what was expected and what was found; nothing is
created before the input is checked. (As root, chmod does not make a folder read-only: the
read-only and full-disk cases patch the permission check or the write.)
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from handkit import errors
from handkit.__main__ import main as handkit_main
from handkit.errors import InputError, check_output_folder, run_command
from handkit.losses import LossConfig
from handkit.train.config import TrainConfig, load_config, run_config

REPOSITORY = Path(__file__).resolve().parents[1]
#: Flags of a run that takes one stage-1 step.
ONE_STEP = ["--quiet", "--stage1-steps", "1", "--stage2-steps", "0", "--stage3-steps", "0",
            "--batch-size", "2", "--checkpoint-every", "1", "--threads", "1"]


def one_line(capsys, command: str) -> str:
    """The single stderr line of a refused command, after ``handkit <command>: ``."""
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith(f"handkit {command}: "), err
    return err[len(f"handkit {command}: "):-1]


CONFIG_FILES = [
    ("lr.yaml", b"lr: 1e-3\n", "lr must be a finite number, got '1e-3' (text) (a number read "
     "as text: YAML reads 1e-3 as text; write 1.0e-3 or 0.001)"),
    ("steps.yaml", b'stage1_steps: "abc"\n', "stage1_steps must be an integer, got 'abc' (text)"),
    ("batch.json", b'{"batch_size": "4"}', "batch_size must be an integer, got '4' (text) (a "
     "number written as text: drop the quotes)"),
    ("loss.yaml", b'loss: {lambda_align: "x"}\n',
     "loss.lambda_align must be a finite number, got 'x' (text)"),
    ("syntax.yaml", b"lr: [1\nx: : 2\n",
     "not valid YAML: line 2, column 2: expected ',' or ']', but got ':'"),
    ("half.yaml", b"stage1_steps: 2.5\n", "stage1_steps must be an integer, got 2.5 (float)"),
    ("whole.yaml", b"stage1_steps: 3.0\n", "stage1_steps must be an integer, got 3.0 (float)"),
    ("bool.yaml", b"stage1_steps: true\n",
     "stage1_steps must be an integer, got True (a boolean)"),
    ("device.yaml", b"device: yes\n", "device must be text, got True (a boolean)"),
    ("binary.yaml", b"\xff\xfe\x00\x01", "not a YAML text file (byte 0xff at position 0 is not "
     "UTF-8)"),
    ("latin1.json", '{"data": "caf\xe9"}'.encode("latin-1"),
     "not a JSON text file (byte 0xe9 at position 13 is not UTF-8)"),
    ("nan.json", b'{"lr": NaN}', "lr must be a finite number, got nan (float)"),
    ("range.json", b'{"lr": -1, "seed": -2}',
     "lr must be > 0, got -1.0; seed must be >= 0, got -2"),
    ("empty.yaml", b"", "a training config holds a mapping of names to values, found an empty "
     "file"),
    ("keys.yaml", b"1: 2\n", "unknown training config name(s) ['1']"),
]


@pytest.mark.parametrize(("name", "content", "expected"), CONFIG_FILES,
                         ids=[case[0] for case in CONFIG_FILES])
def test_a_wrong_config_file_is_one_line_naming_file_key_expected_and_found(
        tmp_path, capsys, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "run"
    assert handkit_main(["train", "--config", str(path), "--out", str(out), *ONE_STEP]) == 1
    line = one_line(capsys, "train")
    assert line.startswith(f"{path}: ") and expected in line, line
    assert not out.exists()


@pytest.mark.parametrize(("flags", "expected"), [
    (["--lr", "inf"], "lr must be a finite number, got inf (float)"),
    (["--lr", "nan"], "lr must be a finite number, got nan (float)"),
    (["--lambda-align=-inf"], "loss.lambda_align must be a finite number, got -inf (float)"),
    (["--p-unlabelled", "1.5"], "p_unlabelled must be in [0, 1], got 1.5"),
])
def test_a_wrong_flag_is_one_line_before_any_folder_exists(tmp_path, capsys, flags, expected):
    out = tmp_path / "run"
    assert handkit_main(["train", "--out", str(out), *ONE_STEP, *flags]) == 1
    assert one_line(capsys, "train") == expected
    assert not out.exists()


def test_types_are_checked_where_the_config_is_made():
    assert TrainConfig(lr=1).lr == 1.0 and isinstance(TrainConfig(lr=1).lr, float)
    steps = TrainConfig(stage1_steps=np.int64(3), lr=np.float32(0.5)).stage1_steps
    assert steps == 3 and type(steps) is int
    assert TrainConfig.from_dict(TrainConfig().to_dict()) == TrainConfig()
    with pytest.raises(InputError, match=r"^label_every must be an integer, got 64\.0 \(float\)$"):
        TrainConfig(label_every=64.0)
    with pytest.raises(InputError, match=r"^threads must be an integer, got False"):
        TrainConfig(threads=False)
    with pytest.raises(InputError, match=r"^lambda_j must be a finite number, got '1' \(text\)"):
        LossConfig(lambda_j="1")
    assert issubclass(InputError, ValueError)  # callers that catch ValueError keep working


def test_shipped_configs_and_weights_still_load():
    for name in ("table1_ho3d.yaml", "table1_interhand.yaml"):
        assert load_config(REPOSITORY / "experiments" / name).lr == 5e-5
    from handkit.experiments.table1 import sample_checkpoint_path
    from handkit.train.export import load_weights

    assert load_weights(sample_checkpoint_path()).config.stage1_steps == 600


def test_a_config_json_of_a_run_folder_names_the_file(tmp_path):
    (tmp_path / "config.json").write_text('{"stage1_steps": 2.5}')
    with pytest.raises(InputError, match=r"config\.json: stage1_steps must be an integer"):
        run_config(tmp_path)


@pytest.mark.parametrize("command", [
    ["train", *ONE_STEP, "--out"], ["data", "synth", "--videos", "1", "--out"],
    ["experiment", "table1", "--out"], ["experiment", "sweep-figures", "--out"],
    ["sweep", "--notebook", "nb.ipynb", "--grid", "a=1,2", "--out"],
    ["run", "nb.ipynb", "--out-dir"], ["lab", "--no-launch", "--dir"],
])
def test_an_output_folder_that_is_a_file_is_one_line(tmp_path, capsys, command):
    taken = tmp_path / "taken"
    taken.write_text("")
    assert handkit_main([*command, str(taken)]) == 1
    name = " ".join(command[:2] if command[0] in ("data", "experiment") else command[:1])
    line = one_line(capsys, name)
    assert line.endswith(f"{taken} is a file, expected a folder"), line
    assert handkit_main([*command, str(taken / "sub")]) == 1
    assert one_line(capsys, name).endswith(
        f"{taken / 'sub'} cannot be made: {taken} is a file, expected a folder")


def test_a_read_only_output_folder_is_refused_before_anything_runs(tmp_path, capsys,
                                                                   monkeypatch):
    monkeypatch.setattr(errors.os, "access", lambda path, mode: False)
    monkeypatch.setattr(errors, "_read_only_fs", lambda path: True)
    out = tmp_path / "run"
    assert handkit_main(["train", "--out", str(out), *ONE_STEP]) == 1
    assert one_line(capsys, "train") == (f"--out {out}: cannot write in {tmp_path} "
                                         f"(read-only file system)")
    assert not out.exists()


def test_evaluate_on_a_read_only_run_folder_computes_nothing(tmp_path, capsys, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("evaluated a run it cannot write")

    monkeypatch.setattr("handkit.evaluate_cli.evaluate_run", never)
    monkeypatch.setattr(errors.os, "access", lambda path, mode: False)
    monkeypatch.setattr(errors, "_read_only_fs", lambda path: False)
    assert handkit_main(["evaluate", "--run", str(tmp_path), "--quiet"]) == 1
    assert one_line(capsys, "evaluate") == (f"--run {tmp_path}: cannot write in {tmp_path} "
                                            f"(no write permission)")


def test_a_full_disk_during_training_is_one_line(tmp_path, capsys, monkeypatch):
    def full(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    out = tmp_path / "run"
    assert handkit_main(["train", "--out", str(out), *ONE_STEP]) == 1
    assert one_line(capsys, "train") == f"cannot write in {out}: No space left on device"


def test_cuda_without_a_gpu_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "run"
    assert handkit_main(["train", "--out", str(out), *ONE_STEP, "--device", "cuda"]) == 1
    line = one_line(capsys, "train")
    assert line.startswith("device 'cuda' was asked for but torch sees no GPU")
    assert line.endswith("use --device cpu or auto") and not out.exists()


@pytest.mark.parametrize(("content", "expected"), [
    (b"grid:\n  a: [1\n x: : 2\n", "cannot read it as YAML: line 3, column 3: expected ',' or "
     "']', but got ':'"),
    (b"\x89PNG\r\n", "not a YAML text file (byte 0x89 at position 0 is not UTF-8)"),
])
def test_a_wrong_grid_file_is_one_line(tmp_path, capsys, content, expected):
    grid = tmp_path / "grid.yaml"
    grid.write_bytes(content)
    code = handkit_main(["sweep", "--notebook", str(tmp_path / "nb.ipynb"), "--grid-file",
                         str(grid), "--out", str(tmp_path / "sweep")])
    assert code == 1
    assert one_line(capsys, "sweep") == f"refused: {grid}: {expected}"


def test_missing_inputs_of_other_commands_are_one_line(tmp_path, capsys):
    assert handkit_main(["bench", "data", "--root", str(tmp_path / "none"), "--repeats", "1"]) == 1
    assert one_line(capsys, "bench data") == f"HO-3D train folder not found: expected " \
                                             f"{tmp_path / 'none' / 'train'}"
    assert handkit_main(["evaluate", "--run", str(tmp_path / "none")]) == 1
    assert one_line(capsys, "evaluate").startswith("no checkpoint at")
    assert handkit_main(["data", "synth", "--out", str(tmp_path / "d"), "--videos", "0"]) == 1
    assert one_line(capsys, "data synth") == "num_videos must be an integer >= 1, got 0"


@pytest.mark.parametrize(("command", "flag"), [
    (["bench", "mano", "--repeats", "0"], "--repeats"),
    (["evaluate", "--run", "runs/x", "--videos", "0"], "--videos"),  # -1 took all but the last
])
def test_a_count_of_zero_is_an_argparse_error_naming_the_flag(capsys, command, flag):
    with pytest.raises(SystemExit) as exit_info:
        handkit_main(command)
    assert exit_info.value.code == 2
    assert f"argument {flag}: expected an integer >= 1, got 0" in capsys.readouterr().err


def test_a_negative_seed_is_refused_before_table1_makes_its_data(tmp_path, capsys):
    out = tmp_path / "t1"
    assert handkit_main(["experiment", "table1", "--seeds", "0", "-1", "--out", str(out)]) == 1
    assert one_line(capsys, "experiment table1") == "--seeds must be integers >= 0, got [0, -1]"
    assert not out.exists()


def test_only_the_users_input_errors_become_one_line(capsys):
    def failing(error):
        def main(argv):
            raise error
        return main

    assert run_command("x", failing(InputError("bad value")), []) == 1
    assert capsys.readouterr().err == "handkit x: bad value\n"
    assert run_command("x", failing(OSError(errno.EROFS, "Read-only file system", "f")), []) == 1
    assert capsys.readouterr().err == "handkit x: f: Read-only file system\n"
    for bug in (OSError(errno.EIO, "Input/output error"), TypeError("a bug")):
        with pytest.raises(type(bug)):
            run_command("x", failing(bug), [])


def test_check_output_folder_accepts_a_new_or_existing_folder(tmp_path):
    assert check_output_folder(tmp_path, "--out") == tmp_path
    assert check_output_folder(tmp_path / "a" / "b", "--out") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # checking makes nothing


def test_the_real_command_line_prints_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr: 1e-3\n")
    done = subprocess.run([sys.executable, "-m", "handkit", "train", "--config", str(bad),
                           "--out", str(tmp_path / "run")], capture_output=True, text=True,
                          cwd=REPOSITORY, env={**os.environ, "OMP_NUM_THREADS": "1"},
                          timeout=300)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"handkit train: {bad}: lr must be a finite number, got '1e-3' (text) (a number read "
        f"as text: YAML reads 1e-3 as text; write 1.0e-3 or 0.001)"]
