"""Shared test fixtures."""

import pytest
import torch


@pytest.fixture(autouse=True)
def keep_threads():
    """Training sets torch's thread count from its config: restore it after every test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
