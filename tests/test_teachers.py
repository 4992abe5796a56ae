import numpy as np
import pytest

from prefrl.core.comparisons import Choice
from prefrl.core.teachers import SyntheticOracle, make_teacher


def test_perfect_oracle_prefers_the_higher_true_return_and_calls_ties_equal():
    oracle = make_teacher("perfect")
    assert oracle.label(np.array([1.0, 2.0]), np.array([0.0, 2.5])) is Choice.LEFT
    assert oracle.label(np.array([-1.0]), np.array([3.0])) is Choice.RIGHT
    assert oracle.label(np.array([1.0, 1.0]), np.array([2.0, 0.0])) is Choice.EQUAL


def test_mistake_teacher_flips_decided_answers_at_rate_epsilon_but_not_ties():
    oracle = SyntheticOracle(epsilon=0.1, seed=0)
    labels = [oracle.label(np.array([1.0]), np.array([0.0])) for _ in range(20000)]
    assert np.mean([lab is Choice.RIGHT for lab in labels]) == pytest.approx(0.1, abs=0.01)
    assert all(oracle.label(np.array([1.0]), np.array([1.0])) is Choice.EQUAL for _ in range(100))


def test_boltzmann_teacher_chooses_with_probability_sigmoid_beta_times_difference():
    oracle = SyntheticOracle(beta=0.5, seed=0)
    labels = [oracle.label(np.array([2.0]), np.array([0.0])) for _ in range(20000)]
    assert np.mean([lab is Choice.LEFT for lab in labels]) == pytest.approx(1 / (1 + np.exp(-1.0)), abs=0.01)


def test_invalid_teacher_settings_are_refused():
    with pytest.raises(ValueError):
        SyntheticOracle(epsilon=1.5)
    with pytest.raises(ValueError):
        SyntheticOracle(beta=0)
    with pytest.raises(ValueError, match="perfect"):
        make_teacher("psychic")
