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


def test_skip_drops_a_query_when_both_returns_are_below_eps_skip_times_the_margin():
    oracle = SyntheticOracle(eps_skip=0.5)
    oracle.observe(np.array([10.0, 30.0]))  # margin 20: threshold 10
    assert oracle.label(np.array([4.0, 5.0]), np.array([9.5])) is None  # 9 and 9.5 are both below 10
    assert oracle.label(np.array([4.0, 5.0]), np.array([10.5])) is Choice.RIGHT  # one clip clears it


def test_equal_when_returns_differ_by_less_than_eps_equal_times_the_margin():
    oracle = SyntheticOracle(eps_equal=0.1)
    oracle.observe(np.array([-20.0]))  # |margin| 20: threshold 2
    assert oracle.label(np.array([5.0]), np.array([6.5])) is Choice.EQUAL
    assert oracle.label(np.array([5.0]), np.array([7.5])) is Choice.RIGHT


def test_thresholds_follow_the_current_margin_and_do_not_compound():
    oracle = SyntheticOracle(eps_equal=0.1)
    for _ in range(5):  # the reference package multiplied its thresholds by epsilon again every round
        oracle.observe(np.array([20.0]))
        assert oracle.label(np.array([5.0]), np.array([6.5])) is Choice.EQUAL


def test_myopic_teacher_weights_later_steps_more():
    oracle = SyntheticOracle(gamma=0.5)
    # plain sums: a = 4 > b = 3. Myopic (weights 0.25, 0.5, 1): a = 4*0.25 = 1.0, b = 3*1 = 3.0, so b wins
    assert oracle.label(np.array([4.0, 0.0, 0.0]), np.array([0.0, 0.0, 3.0])) is Choice.RIGHT
    assert SyntheticOracle().label(np.array([4.0, 0.0, 0.0]), np.array([0.0, 0.0, 3.0])) is Choice.LEFT


def test_noisy_preset_is_boltzmann_on_per_step_means():
    oracle = make_teacher("noisy", seed=1)
    # per-step means 2.0 and 1.0 over 4 steps: P(left) = sigmoid(1 * 1.0)
    labels = [oracle.label(np.full(4, 2.0), np.full(4, 1.0)) for _ in range(20000)]
    assert np.mean([lab is Choice.LEFT for lab in labels]) == pytest.approx(1 / (1 + np.exp(-1.0)), abs=0.01)


def test_an_equal_answer_stands_even_when_a_mistake_would_flip_it():
    oracle = SyntheticOracle(eps_equal=0.5, epsilon=1.0)
    oracle.observe(np.array([10.0]))
    assert all(oracle.label(np.array([3.0]), np.array([4.0])) is Choice.EQUAL for _ in range(50))
    assert oracle.label(np.array([3.0]), np.array([9.0])) is Choice.LEFT  # decided answers are flipped


@pytest.mark.parametrize("preset", ["perfect", "noisy", "mistake", "skip", "equal", "myopic"])
def test_every_preset_exists_and_labels(preset):
    oracle = make_teacher(preset, seed=0)
    oracle.observe(np.array([1.0, 2.0]))
    assert oracle.label(np.array([5.0, 5.0]), np.array([0.0, 0.0])) in (Choice.LEFT, Choice.RIGHT, None)
