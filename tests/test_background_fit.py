"""Refits in a worker process: the same weights as a fit in the training process, and failures that say so."""

import os

import numpy as np
import pytest
import torch

from prefrl.core.background_fit import BackgroundFitter, fit_and_normalise
from prefrl.core.comparisons import PreferenceDataset
from prefrl.core.reward import RewardEnsemble
from prefrl.core.reward_config import RewardConfig
from prefrl.errors import PrefrlError
from tests.test_reward_ensemble import linear_task

CONFIG = RewardConfig(initial_epochs=5, refit_epochs=3)


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture
def fitter():
    f = BackgroundFitter(6, CONFIG, seed=2)
    yield f
    f.close()


def test_fits_in_the_worker_give_the_weights_fits_in_process_give(fitter):
    """Two fits in a row, the second warm-started: Adam's moments and the bootstrap RNG live on in the worker."""
    items, mask, data, _ = linear_task(60, 80, seed=0)
    local = RewardEnsemble(6, CONFIG, seed=2)
    for n in (40, 80):  # the second fit sees more labels, as a refit does
        subset = PreferenceDataset(data.pairs[:n], data.targets[:n])
        features = items[:20].reshape(-1, 6)
        report = fit_and_normalise(local, items, mask, subset, features)
        fitter.submit(items, mask, subset, features)
        result = fitter.result()
        assert_same_state(result.state, local.state())
        assert result.report.train_loss == report.train_loss and result.seconds > 0
    remote = RewardEnsemble(6, CONFIG, seed=2)
    remote.load_state(result.state)
    assert np.array_equal(remote.predict(features), local.predict(features))


def test_a_loaded_state_is_where_the_worker_goes_on_from(fitter):
    items, mask, data, _ = linear_task(60, 80, seed=1)
    features = items.reshape(-1, 6)
    start = RewardEnsemble(6, CONFIG, seed=9)  # another seed: a checkpoint unlike the worker's own start
    fit_and_normalise(start, items, mask, data, features)
    fitter.load_state(start.state())
    local = RewardEnsemble(6, CONFIG, seed=2)  # a resumed run: fresh optimizer, the checkpoint's weights
    local.load_state(start.state())
    fit_and_normalise(local, items, mask, data, features)
    fitter.submit(items, mask, data, features)
    assert_same_state(fitter.result().state, local.state())


def test_a_failed_fit_raises_in_the_caller_with_the_workers_traceback(fitter):
    items, mask, data, _ = linear_task(10, 20, seed=0)
    broken = PreferenceDataset(data.pairs + 100, data.targets)  # rows past the end of items
    fitter.submit(items, mask, broken, items.reshape(-1, 6))
    with pytest.raises(RuntimeError, match="reward-model fit failed in the worker process") as info:
        fitter.result()
    assert "IndexError" in str(info.value)
    fitter.submit(items, mask, data, items.reshape(-1, 6))  # the worker survives its failure
    assert fitter.result().report.comparisons == len(data)


def test_a_dead_worker_is_reported_with_the_way_around_it():
    fitter = BackgroundFitter(6, CONFIG, seed=2)
    fitter._proc.kill()
    fitter._proc.wait()
    items, mask, data, _ = linear_task(10, 20, seed=0)
    with pytest.raises(PrefrlError, match=r"exited .* the labels are saved: continue .* --resume"):
        fitter.submit(items, mask, data, items.reshape(-1, 6))
        fitter.result()
    fitter.close()


def test_one_fit_at_a_time(fitter):
    items, mask, data, _ = linear_task(10, 20, seed=0)
    with pytest.raises(RuntimeError, match="no fit in flight"):
        fitter.result()
    fitter.submit(items, mask, data, items.reshape(-1, 6))
    with pytest.raises(RuntimeError, match="in flight"):
        fitter.submit(items, mask, data, items.reshape(-1, 6))
    fitter.result()


def test_the_worker_is_out_of_reach_of_the_terminals_ctrl_c(fitter):
    """Ctrl-C goes to the caller, which stops the worker itself; a worker hit while importing torch would print a
    traceback beside the clean 'stopped' line."""
    assert os.getpgid(fitter._proc.pid) != os.getpgid(0)
