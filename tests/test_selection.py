import numpy as np

from prefrl.core.selection import disagreement_pairs, preference_variance, random_pairs, select_pairs


def test_random_pairs_never_pair_an_item_with_itself():
    pairs = random_pairs(3, 5000, np.random.default_rng(0))
    assert (pairs[:, 0] != pairs[:, 1]).all()
    assert set(np.unique(pairs)) == {0, 1, 2}


def test_disagreement_picks_the_highest_variance_candidates():
    rng = np.random.default_rng(0)
    returns = rng.normal(size=(3, 40)) * np.linspace(0.01, 3, 40)  # later items: members disagree more
    chosen = disagreement_pairs(returns, 5, np.random.default_rng(1), candidate_factor=10)
    candidates = random_pairs(40, 50, np.random.default_rng(1))  # the same draw the selector made
    variance = preference_variance(returns, candidates)
    assert sorted(map(tuple, chosen)) == sorted(map(tuple, candidates[np.argsort(-variance)[:5]]))
    assert preference_variance(returns, chosen).min() >= np.sort(variance)[-5]


def test_pairs_the_members_agree_on_have_no_variance():
    returns = np.tile(np.arange(5.0), (3, 1))
    assert np.allclose(preference_variance(returns, np.array([[0, 4], [1, 2]])), 0)


def test_unknown_strategy_is_refused():
    try:
        select_pairs("clairvoyant", np.zeros((3, 4)), 2, np.random.default_rng(0))
    except ValueError as exc:
        assert "random" in str(exc)
    else:
        raise AssertionError("expected ValueError")
