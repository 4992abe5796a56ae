"""Each refit's effect on the reward the agent sees is measured, so a run shows when PPO had to chase its reward."""

import numpy as np
import pytest

from prefrl.control.refit_change import reward_change


def test_a_rescaled_and_shifted_reward_reads_as_its_slope_and_level_shift():
    before = np.random.default_rng(0).normal(size=1000)
    before -= before.mean()
    change = reward_change(before, 1.5 * before + 0.25)
    assert change["correlation"] == pytest.approx(1.0)
    assert change["slope"] == pytest.approx(1.5)
    assert change["level_shift"] == pytest.approx(0.25)


def test_a_reward_with_a_new_shape_reads_as_low_correlation():
    rng = np.random.default_rng(1)
    change = reward_change(rng.normal(size=1000), rng.normal(size=1000))
    assert abs(change["correlation"]) < 0.1 and abs(change["slope"]) < 0.1


def test_a_constant_reward_before_the_refit_gives_no_correlation_rather_than_an_error():
    change = reward_change(np.ones(50), np.arange(50.0))
    assert np.isnan(change["correlation"]) and np.isnan(change["slope"])
    assert change["level_shift"] == pytest.approx(23.5)
