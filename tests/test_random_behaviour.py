"""The random policy before PPO: varied behaviour gives each clip's stretch its own scale and smoothness."""

import numpy as np
from gymnasium.spaces import Box

from prefrl.control.random_behaviour import VariedActions


def stretches(space, n_stretches=200, stretch=50, dt=0.02, seed=0):
    actions = VariedActions(space, dt, stretch, np.random.default_rng(seed))
    return np.array([[actions.sample() for _ in range(stretch)] for _ in range(n_stretches)])


def test_actions_stay_inside_the_box_of_any_bounds():
    space = Box(low=np.array([-0.4, 0.0], np.float32), high=np.array([0.4, 3.0], np.float32))
    a = stretches(space)
    assert a.shape == (200, 50, 2)
    assert (a >= space.low).all() and (a <= space.high).all()
    assert a[..., 0].min() < -0.3 and a[..., 1].max() > 2.5  # and reach near both ends


def test_each_stretch_draws_its_own_scale_from_still_to_thrashing():
    a = stretches(Box(-1.0, 1.0, shape=(3,)))
    spread = a.std(axis=(1, 2))  # per stretch
    assert spread.min() < 0.1 and spread.max() > 0.6
    assert np.mean(spread > 0.3) > 0.2 and np.mean(spread < 0.2) > 0.2  # both kinds are common


def test_some_stretches_are_smooth_and_some_jerky():
    a = stretches(Box(-1.0, 1.0, shape=(1,)), n_stretches=300, stretch=100)[..., 0]
    x, y = a[:, :-1] - a[:, :-1].mean(1, keepdims=True), a[:, 1:] - a[:, 1:].mean(1, keepdims=True)
    lag1 = (x * y).sum(1) / np.sqrt((x * x).sum(1) * (y * y).sum(1))  # each stretch's step-to-step correlation
    assert np.nanmin(lag1) < 0.3 and np.nanmax(lag1) > 0.9


def test_a_new_episode_starts_a_new_stretch_and_a_seed_repeats_exactly():
    space = Box(-1.0, 1.0, shape=(2,))
    one = VariedActions(space, 0.01, 1000, np.random.default_rng(3))
    first = one.sample()
    first_scale = one.scale
    one.restart()
    two = VariedActions(space, 0.01, 1000, np.random.default_rng(3))
    assert np.array_equal(two.sample(), first)
    one.sample(), two.sample()
    assert two.scale == first_scale  # still its first stretch
    assert one.scale != two.scale  # restarted: a fresh stretch with its own scale


def up_front_clips(tmp_path, behaviour):
    from prefrl.control.config import TrainConfig
    from prefrl.control.trainer import Trainer

    config = TrainConfig(env="Reacher-v5", initial_behaviour=behaviour, progress=False)
    trainer = Trainer(config, tmp_path / behaviour)
    try:
        trainer.loop.collect_random_segments(60)
        return trainer.loop.buffer.recent()
    finally:
        trainer.close()


def test_varied_up_front_clips_differ_in_how_the_agent_moves_where_uniform_ones_look_alike(tmp_path):
    """The random policy before PPO: a Reacher episode is one clip; uniform noise makes every clip's actions spread
    alike, varied behaviour ranges from holding still to thrashing."""
    spread = {b: np.array([c.actions.std() for c in up_front_clips(tmp_path, b)]) for b in ("uniform", "varied")}
    assert len(spread["uniform"]) == len(spread["varied"]) == 60
    assert spread["uniform"].min() > 0.45  # i.i.d. uniform on [-1, 1]: about 0.58 in every clip
    assert spread["varied"].min() < 0.15 and spread["varied"].max() > 0.5
