"""Shared pytest set-up for the losskit test suite.

* A hypothesis profile with few, derandomised examples and no deadline, so the
  property tests are reproducible and fast on a shared 2-core machine.
* The global validation switch is restored after every test, so a test that
  turns it off cannot leak into another.
* float64 by default is *not* set: each test states its dtype.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from hypothesis import HealthCheck, settings

import losskit

settings.register_profile(
    "losskit",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("losskit")

# One intra-op thread per test process: the suite's tensors are tiny, and with pytest-xdist's workers on a
# shared 2-core machine torch's thread pool spins against the other workers (a (3, 3, 2, 2) softmax measured
# 64 ms with the default threads under load, 8 ms with one). Tests that need more threads set them themselves.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _restore_validation_switch() -> Iterator[None]:
    before = losskit.is_validation_enabled()
    yield
    losskit.set_validation(before)


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded CPU generator: every test draws the same numbers on every run."""
    return torch.Generator().manual_seed(1234)
