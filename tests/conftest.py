"""Shared fixtures: the default sample center (generated once, cached on disk)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def sample():
    """The default sample year as a dict of canonical DataFrames (do not mutate)."""
    from cxlab.sample import load_sample

    return load_sample()


@pytest.fixture(scope="session")
def sample_truth():
    """Ground truth of the default sample."""
    from cxlab.sample import ground_truth

    return ground_truth()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")

