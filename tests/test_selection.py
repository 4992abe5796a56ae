import numpy as np

from prefrl.core.selection import (
    disagreement_pairs,
    most_uncertain_pairs,
    preference_variance,
    random_pairs,
    select_pairs,
)


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


def test_uncertain_pairs_score_only_the_items_their_candidates_use_and_choose_as_if_all_were_scored():
    returns = np.random.default_rng(0).normal(size=(3, 2000))
    asked = []

    def returns_of(rows):
        asked.append(rows)
        return returns[:, rows]

    chosen = most_uncertain_pairs(preference_variance, returns_of, 2000, 5, np.random.default_rng(1), 10)
    candidates = random_pairs(2000, 50, np.random.default_rng(1))  # the same draw, scored on every item
    assert len(asked) == 1 and len(asked[0]) <= 100 and set(candidates.flatten()) == set(asked[0])
    assert np.array_equal(chosen, candidates[np.argsort(-preference_variance(returns, candidates), kind="stable")[:5]])


def test_pairs_the_members_agree_on_have_no_variance():
    returns = np.tile(np.arange(5.0), (3, 1))
    assert np.allclose(preference_variance(returns, np.array([[0, 4], [1, 2]])), 0)


def test_a_member_sure_of_a_pair_adds_no_entropy_even_in_float32():
    from prefrl.core.selection import preference_entropy

    returns = np.array([[0.0, 40.0], [0.0, 0.1]], dtype=np.float32)  # member 0 certain, member 1 unsure
    entropy = preference_entropy(returns, np.array([[0, 1], [1, 0]]))  # either order: P(a > b) near 0, then near 1
    p = 1 / (1 + np.exp(-0.1))
    unsure = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    assert np.isfinite(entropy).all() and np.allclose(entropy, unsure / 2, atol=1e-6)


def test_unknown_strategy_is_refused():
    try:
        select_pairs("clairvoyant", np.zeros((3, 4)), 2, np.random.default_rng(0))
    except ValueError as exc:
        assert "random" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_entropy_picks_the_pairs_members_are_least_sure_about():
    from prefrl.core.selection import entropy_pairs, preference_entropy

    # members agree item 0 >> items 1..9, and that items 1..9 are nearly tied: pairs among 1..9 are the uncertain ones
    returns = np.tile(np.r_[50.0, np.linspace(0, 0.1, 9)], (3, 1))
    chosen = entropy_pairs(returns, 5, np.random.default_rng(0), candidate_factor=10)
    assert (chosen != 0).all()
    # by hand: equal returns give P = 0.5 and the maximal entropy ln 2 for every member
    assert np.allclose(preference_entropy(np.zeros((3, 2)), np.array([[0, 1]])), np.log(2))


def test_recent_pairs_only_pair_recent_items():
    recent = np.zeros(50, dtype=bool)
    recent[-6:] = True
    pairs = select_pairs("recent", np.zeros((3, 50)), 200, np.random.default_rng(0), recent=recent)
    assert (pairs >= 44).all() and (pairs[:, 0] != pairs[:, 1]).all()


def test_top_pairs_only_pair_the_items_the_ensemble_rates_best():
    # 100 items rated 0..99 by every member (shuffled): the top tenth are the items rated 90..99
    ratings = np.random.default_rng(1).permutation(100).astype(float)
    members = np.stack([ratings, ratings + 0.5, ratings - 0.5])
    pairs = select_pairs("top", members, 5, np.random.default_rng(0), top_share=0.1)
    assert pairs.shape == (5, 2) and (pairs[:, 0] != pairs[:, 1]).all()
    assert (ratings[pairs] >= 90).all()


def test_top_pairs_widen_to_twice_the_pairs_asked():
    ratings = np.arange(100.0)
    pairs = select_pairs("top", np.tile(ratings, (3, 1)), 20, np.random.default_rng(0), top_share=0.1)
    assert (ratings[pairs] >= 60).all()  # 40 items for 20 pairs, not the top 10
    assert len(np.unique(pairs)) > 10


def test_upper_disagreement_asks_the_most_disagreed_pairs_within_the_better_rated_half():
    # 100 items; members agree on the ranking (mean rating 0..99, shuffled) but spread apart most on items 0-9 and
    # 50-59: the half rated 50..99 is kept, and the most-disagreed pairs come from there, not from items 0-9
    rng = np.random.default_rng(1)
    ratings = rng.permutation(100).astype(float)
    spread = np.where((ratings < 10) | ((ratings >= 50) & (ratings < 60)), 30.0, 0.1)
    members = np.stack([ratings - spread, ratings, ratings + spread])
    pairs = select_pairs("upper-disagreement", members, 5, np.random.default_rng(0))
    assert pairs.shape == (5, 2) and (pairs[:, 0] != pairs[:, 1]).all()
    assert (ratings[pairs] >= 50).all()
    assert ((ratings[pairs] < 60).any(axis=1)).all()  # every pair holds an item the members disagree on


def test_upper_disagreement_widens_to_twice_the_pairs_asked():
    ratings = np.arange(30.0)
    pairs = select_pairs("upper-disagreement", np.stack([ratings, ratings * 2]), 10, np.random.default_rng(0))
    assert (ratings[pairs] >= 10).all() and (ratings[pairs] < 15).any()  # 20 items for 10 pairs, not the top 15


def test_trainer_marks_the_last_episodes_segments_as_recent(tmp_path):
    from prefrl.control.config import TrainConfig
    from prefrl.control.segments import Segment
    from prefrl.control.trainer import Trainer

    trainer = Trainer(TrainConfig(env="HalfCheetah-v5", recent_episodes=2), tmp_path)
    segs = [Segment(*(np.zeros((1, 1)),) * 5, episode=e, start=0) for e in [0, 0, 1, 1, 2, 3, 3]]
    assert trainer.loop.recent_mask(segs, 1).tolist() == [False] * 4 + [True] * 3  # episodes 2 and 3
    assert trainer.loop.recent_mask(segs, 3).sum() == 6  # widened to at least 2n segments
