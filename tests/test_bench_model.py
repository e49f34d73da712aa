"""``python -m handkit bench model`` runs and prints both ratios (tiny settings, so it is quick)."""

import torch

from handkit.__main__ import COMMANDS
from handkit.benchmarks import model


def test_bench_model_prints_both_ratios_and_the_load(capsys):
    assert COMMANDS[("bench", "model")] == "handkit.benchmarks.model"
    argv = ["--batch", "2", "--sizes", "32", "--formats", "contiguous", "--repeats", "1",
            "--threads", "1", "--precisions", "fp32", "bf16"]
    threads = torch.get_num_threads()
    try:
        assert model.main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    ratios = [line for line in out.splitlines() if "ratio" in line]
    assert len(ratios) == 4
    assert "stage-1 / bare (32 px, contiguous, fp32)" in ratios[0]
    assert "stage-3 / stage-1 (32 px, contiguous, fp32)" in ratios[1]
    assert "stage-1 / bare (32 px, contiguous, bf16)" in ratios[2]
    assert "stage-3 / stage-1 (32 px, contiguous, bf16)" in ratios[3]
    assert "load average before" in out and "1 threads" in out
    assert f"bf16 native here: {model.native_bf16(torch.device('cpu'))}" in out
