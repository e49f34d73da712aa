"""Run folders that cannot be mixed up: one writer at a time, --force that keeps the old run
until the new one has a checkpoint, atomic curves, stale temporaries, the previous checkpoint,
and requests refused before the folder is touched (handkit.train.folder, handkit.files)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import handkit.files as files_module
from handkit.files import FolderInUseError, folder_lock, write_text_atomic
from handkit.train import RunFolderError, TrainConfig, load_run, train
from handkit.train.checkpoint import load_checkpoint
from handkit.train.folder import STAGING, Curves, RunFolder, write_evaluation

REPO = Path(__file__).resolve().parents[1]
#: Stage 1 and stage 3 only, a few steps; checkpoints every 2 steps.
SMALL = dict(stage1_steps=3, control_steps=0, stage2_steps=0, stage3_steps=2, batch_size=4,
             pair_batch_size=2, checkpoint_every=2, log_every=1, lr=1e-3, threads=1)
CLI_FLAGS = ["--quiet", "--stage1-steps", "3", "--stage2-steps", "0", "--stage3-steps", "2",
             "--batch-size", "4", "--pair-batch-size", "2", "--threads", "1"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def handkit_process(*args: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "handkit", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_holder(lock: Path, pid: int, limit_s: float = 300) -> None:
    """Until the process ``pid`` has written itself into ``lock`` (it holds the lock)."""
    deadline = time.monotonic() + limit_s
    while f"pid {pid} " not in (lock.read_text() if lock.is_file() else ""):
        if time.monotonic() > deadline:
            pytest.fail(f"process {pid} never took {lock}")
        time.sleep(0.2)


def test_two_train_processes_into_one_folder_one_runs_the_other_stops_at_once(tmp_path):
    folder = tmp_path / "run"
    first = handkit_process("train", "--out", str(folder), *CLI_FLAGS, "--stage1-steps",
                            "100000", "--lr", "1e-3")
    try:
        wait_for_holder(folder / ".handkit.lock", first.pid)
        second = handkit_process("train", "--out", str(folder), *CLI_FLAGS, "--lr", "5e-5")
        out, err = second.communicate(timeout=300)
        assert second.returncode == 1 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith(f"handkit train: {folder} is in use by pid {first.pid} on ")
        assert "(handkit train: " in lines[0] and " since " in lines[0]
        assert first.poll() is None  # the first one is still training
        config = json.loads((folder / "config.json").read_text())
        assert config["lr"] == 1e-3  # the second one changed nothing
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    with folder_lock(folder, what="test"):  # the lock died with its holder
        pass


def test_a_held_folder_is_refused_by_evaluate_data_synth_and_sweep(tmp_path, capsys):
    from handkit.data.synthetic import main as synth_main
    from handkit.evaluate_cli import main as evaluate_main
    from handkit.experiments.sweep import main as sweep_main
    from tests.test_sweep import tiny

    run, data, sweep = tmp_path / "run", tmp_path / "data", tmp_path / "sweep"
    notebook = tiny(tmp_path / "tiny.ipynb")
    with folder_lock(run, what="test holder"), folder_lock(sweep, what="test holder"), \
            folder_lock(data, lock_file=tmp_path / ".data.handkit.lock", what="test holder"):
        assert evaluate_main(["--run", str(run), "--quiet"]) == 1
        assert sweep_main(["--notebook", str(notebook), "--grid", "a=1,2", "--out", str(sweep),
                           "--current-env"]) == 1
        assert synth_main(["--out", str(data), "--videos", "1", "--frames", "2"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3, err
    for line, folder in zip(err, (run, sweep, data), strict=True):
        assert f"{folder} is in use by pid {os.getpid()} on " in line and "test holder" in line
    assert not data.exists()


def test_force_after_evaluate_removes_every_file_of_the_old_run(tmp_path):
    folder = tmp_path / "run"
    train(TrainConfig(**SMALL), folder, progress=False)
    write_evaluation(folder, "test", [{"method": "Baseline", "mpjpe": 1.0}], [])
    write_evaluation(folder, "val", [{"method": "Baseline", "mpjpe": 2.0}], [])
    (folder / "notes.txt").write_text("mine")
    old_final = digest(folder / "final.pt")
    config = TrainConfig(**{**SMALL, "stage3_steps": 0})
    result = train(config, folder, force=True, progress=False)
    assert result.finished
    names = sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))
    assert names == sorted([".handkit.lock", "checkpoint.pt", "checkpoint.prev.pt", "config.json",
                            "curves", "curves/stage1.csv", "final.pt", "notes.txt", "run.json",
                            "stage1.pt"])
    assert digest(folder / "final.pt") != old_final
    assert TrainConfig.from_dict(json.loads((folder / "config.json").read_text())) == config


def test_a_forced_run_stopped_before_its_first_checkpoint_leaves_the_old_run(tmp_path):
    folder = tmp_path / "run"
    train(TrainConfig(**SMALL), folder, progress=False)
    before = {p.name: digest(p) for p in folder.rglob("*") if p.is_file()}

    def interrupt(stage: str, done: int, steps: int) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**{**SMALL, "seed": 5}), folder, force=True, progress=False,
              on_step=interrupt)
    after = {p.name: digest(p) for p in folder.rglob("*") if p.is_file()}
    assert after == before  # the lock file too: empty before and after
    assert load_run(folder).config == TrainConfig(**SMALL)


def test_a_killed_forced_run_leaves_the_old_run_and_its_staging_is_removed_next_time(tmp_path):
    folder = tmp_path / "run"
    train(TrainConfig(**SMALL), folder, progress=False)
    old_final = digest(folder / "final.pt")
    config = {**SMALL, "checkpoint_every": 100000, "stage1_steps": 100000}
    (tmp_path / "config.json").write_text(json.dumps(config))
    forced = handkit_process("train", "--config", str(tmp_path / "config.json"), "--out",
                             str(folder), "--force", "--quiet")
    try:
        wait_for_holder(folder / ".handkit.lock", forced.pid)
        deadline = time.monotonic() + 300
        while not (folder / STAGING / "curves" / "stage1.csv").is_file():  # it is training
            assert time.monotonic() < deadline and forced.poll() is None
            time.sleep(0.2)
    finally:
        forced.send_signal(signal.SIGKILL)
        forced.communicate()
    assert digest(folder / "final.pt") == old_final and (folder / STAGING).is_dir()
    result = train(TrainConfig(**SMALL), folder, force=True, progress=False)
    assert len(result.notes) == 1
    assert result.notes[0].startswith("removed 1 stale temporary (") and STAGING in \
        result.notes[0]
    assert not (folder / STAGING).exists()


def test_a_failed_curves_write_keeps_the_complete_old_file(tmp_path, monkeypatch):
    curves = Curves(RunFolder(tmp_path), "stage1", 0)
    for step in range(3):
        curves.add({"step": step, "lr": 0.1, "total": 1.0 / (step + 1)})
    path = tmp_path / "curves" / "stage1.csv"
    complete = path.read_text()
    real = files_module.tempfile.NamedTemporaryFile

    class HalfWriter:
        """A temporary file whose write stops with an error halfway."""

        def __init__(self, *args, **kwargs):
            self.handle = real(*args, **kwargs)
            self.name = self.handle.name

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

        def write(self, text):
            self.handle.write(text[: len(text) // 2])
            raise OSError(28, "No space left on device")

        def close(self):
            self.handle.close()

    monkeypatch.setattr(files_module.tempfile, "NamedTemporaryFile", HalfWriter)
    with pytest.raises(OSError, match="No space left"):
        curves.add({"step": 3, "lr": 0.1, "total": 0.25})
    assert path.read_text() == complete and len(complete.splitlines()) == 4
    assert sorted(p.name for p in path.parent.iterdir()) == ["stage1.csv"]  # no temporary left


def test_stale_temporaries_of_the_kit_are_removed_and_said_others_stay(tmp_path):
    folder = tmp_path / "run"
    train(TrainConfig(**SMALL), folder, progress=False, stop_after=2)
    stale = [folder / ".handkit-tmp-checkpoint.pt.k2j4h5g6.tmp",
             folder / ".checkpoint.pt.a1b2c3d4.tmp",  # an earlier version's temporary
             folder / "curves" / ".handkit-tmp-stage1.csv.zzzzzzzz.tmp"]
    for path in stale:
        path.write_bytes(b"x" * 1000)
    mine = [folder / ".checkpoint.pt.mine", folder / "handkit-tmp-not-hidden"]
    for path in mine:
        path.write_text("mine")
    seen = []
    result = train(TrainConfig(**SMALL), folder, resume=True, progress=False, log=seen.append)
    assert result.finished and seen == result.notes and len(seen) == 1
    assert seen[0].startswith(f"removed 3 stale temporaries (0.0 MB) left in {folder} by an "
                              f"interrupted run: ")
    assert not any(path.exists() for path in stale) and all(path.exists() for path in mine)


def test_data_synth_removes_the_temporary_folder_a_killed_run_left(tmp_path):
    from handkit.data.synthetic import generate_dataset

    for name in (".handkit-tmp-set.abcd1234", ".set.x1y2z3w4"):  # ours, an earlier version's
        (tmp_path / name / "videos").mkdir(parents=True)
    (tmp_path / ".handkit-tmp-set.v2.abcd1234").mkdir()  # another set's, maybe in use
    (tmp_path / ".set.notes").mkdir()  # not ours
    seen = []
    generate_dataset(tmp_path / "set", num_videos=1, num_frames=2, size=16, seed=0,
                     show_progress=False, log=seen.append)
    assert len(seen) == 1 and seen[0].startswith("removed 2 stale temporaries")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".handkit-tmp-set.v2.abcd1234", ".set.handkit.lock", ".set.notes", "set"]


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    folder = tmp_path / "run"
    train(TrainConfig(**SMALL), folder, progress=False, stop_after=3)  # 3 checkpoints
    previous = load_checkpoint(folder / "checkpoint.prev.pt", kind="resume")
    latest = load_checkpoint(folder / "checkpoint.pt", kind="resume")
    assert (previous["stage"], previous["step"]) != (latest["stage"], latest["step"])
    data = (folder / "checkpoint.pt").read_bytes()
    (folder / "checkpoint.pt").write_bytes(data[: len(data) // 2])  # a damaged disk, say
    result = train(TrainConfig(**SMALL), folder, resume=True, progress=False)
    assert result.finished and len(result.notes) == 1
    assert result.notes[0].startswith(f"resuming from checkpoint.prev.pt (stage "
                                      f"{previous['stage']}, step {previous['step']}): ")
    assert "checkpoint.pt: cannot be read as a handkit checkpoint" in result.notes[0]


@pytest.mark.parametrize(("copied", "found"), [
    ("final.pt", "found a finished run's weights (final.pt)"),
    ("stage1.pt", "found a predictor's weights without the aligner (stage1.pt or control.pt)"),
])
def test_weights_copied_over_the_checkpoint_are_named_not_a_traceback(tmp_path, copied, found):
    done, folder = tmp_path / "done", tmp_path / "run"
    train(TrainConfig(**SMALL), done, progress=False)
    train(TrainConfig(**SMALL), folder, progress=False, stop_after=1)
    (folder / "checkpoint.pt").write_bytes((done / copied).read_bytes())
    with pytest.raises(RunFolderError) as error:
        train(TrainConfig(**SMALL), folder, resume=True, progress=False)
    assert str(error.value) == (f"cannot resume {folder}: {folder / 'checkpoint.pt'}: expected "
                                f"a checkpoint to resume (checkpoint.pt), {found}")
    (done / "final.pt").write_bytes((done / "stage1.pt").read_bytes())
    with pytest.raises(ValueError, match=r"final.pt: expected a finished run's weights \(final"
                                         r".pt\), found a predictor's weights without"):
        load_run(done)


@pytest.mark.parametrize(("options", "config", "message"), [
    (dict(resume=True, force=True), SMALL, "resume and force contradict each other"),
    (dict(stop_after=-1), SMALL, r"stop_after \(--stop-after\) must be 0 or more steps, got -1"),
    ({}, {**SMALL, "stage1_steps": 0, "stage3_steps": 0},
     "nothing to train: stage1_steps, control_steps, stage2_steps, stage3_steps are all 0"),
])
def test_contradictions_and_empty_runs_are_refused_before_the_folder_exists(
        tmp_path, options, config, message):
    with pytest.raises(ValueError, match=message):
        train(TrainConfig(**config), tmp_path / "run", progress=False, **options)
    assert not (tmp_path / "run").exists()


def test_resuming_a_finished_run_is_refused_and_keeps_its_record(tmp_path, capsys):
    from handkit.train.cli import main as train_main

    folder = tmp_path / "run"
    train(TrainConfig(**SMALL), folder, progress=False)
    record = (folder / "run.json").read_text()
    assert train_main(["--out", str(folder), "--resume", "--quiet"]) == 1
    assert capsys.readouterr().err == (f"handkit train: {folder} holds a finished run (final.pt): "
                                       f"nothing to resume; evaluate it, or --force to train it "
                                       f"again\n")
    assert (folder / "run.json").read_text() == record
    assert train_main(["--out", str(folder), "--resume", "--force", "--quiet"]) == 1
    assert "contradict" in capsys.readouterr().err
    with pytest.raises(RunFolderError, match="nothing to resume in .*: no such folder"):
        train(TrainConfig(**SMALL), tmp_path / "missing", resume=True, progress=False)
    assert not (tmp_path / "missing").exists()


def test_atomic_text_temporaries_carry_the_kit_prefix(tmp_path, monkeypatch):
    names = []
    real = files_module.os.replace
    monkeypatch.setattr(files_module.os, "replace",
                        lambda src, dst: (names.append(Path(src).name), real(src, dst)))
    write_text_atomic(tmp_path / "table.csv", "a\n")
    assert len(names) == 1 and names[0].startswith(".handkit-tmp-table.csv.")
    assert files_module.stale_temporaries(tmp_path) == []  # renamed away


def test_a_lock_file_that_cannot_be_made_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(FolderInUseError, match=f"cannot write into {blocker}: File exists"), \
            folder_lock(blocker):
        pass


def sweep_args(notebook: Path, out: Path, *more: str) -> list[str]:
    return ["--notebook", str(notebook), "--grid", "a=1", "--out", str(out), "--current-env",
            *more]


def test_a_sweep_folder_refuses_other_fixed_values_before_any_point_runs(tmp_path, capsys):
    from handkit.experiments.sweep import SWEEP_FILE
    from handkit.experiments.sweep import main as sweep_main
    from tests.test_sweep import tiny

    notebook, out = tiny(tmp_path / "tiny.ipynb"), tmp_path / "sweep"
    out.mkdir()
    recorded = {"notebook": str(notebook), "grid": {"a": [1]}, "fixed": {"b": 1.5}}
    (out / SWEEP_FILE).write_text(json.dumps(recorded))
    assert sweep_main(sweep_args(notebook, out, "-p", "b", "0.5")) == 1
    assert capsys.readouterr().err == (
        f"handkit sweep: refused: {out.resolve()} holds another sweep (fixed {{'b': 1.5}} "
        f"there, {{'b': 0.5}} now); a sweep folder keeps one notebook, fixed values and swept "
        f"names: choose another --out\n")
    assert json.loads((out / SWEEP_FILE).read_text()) == recorded
    assert sorted(p.name for p in out.iterdir()) == [".handkit.lock", SWEEP_FILE]


@pytest.mark.notebook
def test_a_sweep_rerun_with_other_fixed_values_keeps_the_old_points(tmp_path, capsys):
    from handkit.experiments.sweep import main as sweep_main
    from tests.test_sweep import tiny

    notebook, out = tiny(tmp_path / "tiny.ipynb"), tmp_path / "sweep"
    assert sweep_main(sweep_args(notebook, out, "-p", "b", "1.5")) == 0
    results = (out / "results.csv").read_text()
    point = (out / "a=1" / "tiny.json").read_text()
    capsys.readouterr()
    assert sweep_main(sweep_args(notebook, out, "-p", "b", "0.5")) == 1
    assert "holds another sweep (fixed {'b': 1.5} there, {'b': 0.5} now)" in \
        capsys.readouterr().err
    assert (out / "results.csv").read_text() == results
    assert (out / "a=1" / "tiny.json").read_text() == point
    assert sweep_main(sweep_args(notebook, out, "-p", "b", "1.5")) == 0  # the same: accepted


def test_a_waiting_lock_enters_when_the_holder_lets_go(tmp_path):
    import threading

    entered = threading.Event()

    def second():
        with folder_lock(tmp_path, what="second", wait=True):
            entered.set()

    with folder_lock(tmp_path, what="first"):
        with pytest.raises(FolderInUseError, match=r"is in use by .*\(first: "):
            with folder_lock(tmp_path, what="impatient"):
                pass
        waiter = threading.Thread(target=second)
        waiter.start()
        assert not entered.wait(0.3)  # still held: the waiter waits, it does not raise
    waiter.join(10)
    assert entered.is_set()
