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
    before = losskit.get_validation()
    yield
    losskit.set_validation(before)


@pytest.fixture
def gen() -> torch.Generator:
    """A seeded CPU generator: every test draws the same numbers on every run."""
    return torch.Generator().manual_seed(1234)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The API fuzz suite's counts (tests/test_fuzz_api.py): calls per mode and outcome classes."""
    import json
    from collections import Counter

    outcomes: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    losses = 0
    for key in ("passed", "failed"):
        for report in terminalreporter.stats.get(key, []):
            for name, value in getattr(report, "user_properties", []):
                if name == "fuzz_summary":
                    summary = json.loads(value)
                    outcomes.update(summary["outcomes"])
                    modes.update(summary["modes"])
                    losses += 1
    if losses:
        total = sum(outcomes.values())
        terminalreporter.write_line(
            f"API fuzz: {total} calls over {losses} losses; modes {dict(sorted(modes.items()))}; "
            f"outcomes {dict(sorted(outcomes.items()))}"
        )
