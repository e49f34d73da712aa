import json

import numpy as np
import pytest
import torch

from handkit.course.notebook import setup, write_results


def test_setup_seeds_torch_and_numpy():
    setup(7)
    a = (torch.rand(3), np.random.rand(3))
    setup(7)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_write_results_rounds_and_converts(tmp_path):
    out = tmp_path / "deep" / "r.json"
    written = write_results(out, {"a": torch.tensor(1.234567), "b": np.float32(2.5), "c": [1, 2],
                                  "ok": True})
    expected = {"a": 1.2346, "b": 2.5, "c": [1, 2], "ok": True}
    assert json.loads(out.read_text()) == written == expected
    assert list(out.parent.iterdir()) == [out]  # no temporary file left behind


def test_write_results_refuses_nan(tmp_path):
    with pytest.raises(ValueError, match="finite"):
        write_results(tmp_path / "r.json", {"loss": float("nan")})
    assert not (tmp_path / "r.json").exists()
