"""A refit runs beside PPO, and its model is put in use a fixed number of rollouts after the ask: the same point in
every run, however fast the worker process was."""

import pytest
import torch

from prefrl.control import person
from prefrl.control import run_folder as rf
from prefrl.control.config import TrainConfig
from prefrl.control.ppo_config import PPOConfig
from prefrl.control.trainer import Trainer
from prefrl.core.comparisons import Choice


def watched_run(folder, lag):
    """Run a small Hopper job, noting which reward model (by its fit count) every step's reward came from, and
    after which rollout each ask came."""
    config = TrainConfig(
        env="Hopper-v5", labels=40, timesteps=4096, query_batch=10, label_halving=1e9, refit_lag=lag,
        eval_freq=2048, eval_episodes=1, progress=False, ppo=PPOConfig(n_steps=256, batch_size=64, n_epochs=2),
    )  # fmt: skip
    trainer = Trainer(config, folder)
    seen: dict[int, list[tuple[int, int]]] = {}  # rollouts finished -> (model's fit count, steps) of each prediction
    asks: list[tuple[int, int | None]] = []  # (rollouts finished, lag asked for; None: fitted at once)
    loop = trainer.loop
    predict, query = loop.reward_env.reward_fn, loop.query

    def watched_predict(features):
        seen.setdefault(loop.rollouts, []).append((loop.ensemble.fits, len(features)))
        return predict(features)

    def watched_query(n, lag=None):
        asks.append((loop.rollouts, lag))
        query(n, lag)

    loop.reward_env.reward_fn, loop.query = watched_predict, watched_query
    trainer.run()
    assert loop.fitter is None  # the worker was stopped with the run
    return seen, asks, torch.load(folder / rf.REWARD, weights_only=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return {lag: watched_run(tmp_path_factory.mktemp(f"lag{lag}"), lag) for lag in (0, 2)}


@pytest.mark.parametrize("lag", [0, 2])
def test_a_new_reward_model_rewards_ppo_from_the_rollout_lag_rollouts_after_the_ask(runs, lag):
    seen, asks, reward = runs[lag]
    # the next rollout is rewarded once it is complete: all its 256 steps in one prediction by one model
    assert all(len(calls) == 1 and calls[0][1] == 256 for calls in seen.values()), seen
    assert sorted(seen) == list(range(16))
    model = {r: calls[0][0] for r, calls in seen.items()}
    assert asks[0] == (0, None) and model[0] == 1  # the up-front labels are fitted before PPO starts
    middle = [(r, a) for r, a in asks[1:] if r < 16]  # 16 rollouts of 256 steps: the last ask comes after the last
    assert len(middle) == 2 and all(a == lag for _, a in middle)
    for r, _ in middle:
        assert all(model[k] == model[r - 1] for k in range(r, r + lag)), "the new model came early"
        assert model[r + lag] == model[r - 1] + 1, "the new model did not come in time"
    assert asks[-1] == (16, None)  # the final labels are fitted at once...
    assert int(reward["fits"]) == len(asks)  # ...so the saved model has learned from every label


def test_lagged_refits_change_the_run_but_not_when_labels_are_asked(runs):
    (_, asks_now, now), (_, asks_lag, lagged) = runs[0], runs[2]
    assert [r for r, _ in asks_now] == [r for r, _ in asks_lag]  # labels arrive on the same schedule
    assert not torch.equal(now["net.weights.0"], lagged["net.weights.0"])  # but PPO saw, and did, something else


def test_labels_a_person_gave_while_a_refit_was_in_flight_reach_the_final_model(tmp_path):
    """`refit_if_new_labels` (the human path) waits for the fit in flight mid-run, but not after the last rollout."""
    trainer = Trainer(TrainConfig(env="Hopper-v5", labels=40, refit_lag=2, progress=False), tmp_path)
    loop = trainer.loop
    try:
        loop.collect_random_segments(40)
        loop.query(10)  # the up-front fit, installed at once
        loop.query(6, lag=2)  # a refit in flight
        items = list(loop.segments)
        late = loop.store.add_queries([(items[0], items[1])])  # a person answers meanwhile
        loop.store.answer(late[0], Choice.LEFT, annotator="person")
        person.refit_if_new_labels(loop)
        assert loop._in_flight is not None and loop.fitted_on == 16  # mid-run: no second fit queued
        person.refit_if_new_labels(loop, last=True)
        assert loop._in_flight is None and loop.fitted_on == loop.store.count_labels() == 17
        assert int(torch.load(tmp_path / rf.REWARD, weights_only=True)["fits"]) == 3
    finally:
        trainer.close()
