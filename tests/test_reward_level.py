"""The learned reward's level where no labelled clip fixed it: the paper's mean 0 until an episode is seen to end by
itself, then floored at 0, so that ending an episode (which no teacher judged) never pays more than the worst step."""

import numpy as np

from prefrl.control.config import TrainConfig
from prefrl.control.segments import batch_features
from prefrl.control.trainer import Trainer


def step(loop, done):
    """One step of Pendulum-like data through the loop's clip cutter: done ends the episode by itself."""
    obs = np.random.default_rng(len(loop.buffer)).normal(size=(1, 3)).astype(np.float32)
    loop.on_env_step(obs, np.zeros((1, 1), dtype=np.float32), np.array([-1.0]), np.array([done]),
                     [{"TimeLimit.truncated": False}])  # fmt: skip


def test_an_episode_that_ends_by_itself_floors_a_level_no_label_fixed(tmp_path):
    trainer = Trainer(TrainConfig(env="Pendulum-v1", labels=40, timesteps=4096, progress=False), tmp_path / "run")
    loop = trainer.loop
    try:
        loop.collect_random_segments(40)  # Pendulum never ends an episode by itself
        loop.query(10)
        features = batch_features(loop.buffer.recent(), loop.seg_len)[0].reshape(-1, 4)
        assert not loop.floor and not loop.ensemble.level_identified
        assert loop.predicted_reward(features).min() < -0.5  # mean 0: dying would pay on these steps
        for _ in range(3):
            step(loop, done=False)
        step(loop, done=True)  # a clip cut short by the episode's own end
        assert loop.floor
        assert loop.predicted_reward(features).min() >= -1e-4  # no step worth less than ending the episode
    finally:
        trainer.close()
    resumed = Trainer(TrainConfig(env="Pendulum-v1", labels=40, timesteps=4096, progress=False), tmp_path / "run",
                      resume=True)  # fmt: skip
    assert resumed.loop.floor  # remembered by the run
    resumed.close()


def test_the_papers_zero_level_is_never_floored(tmp_path):
    trainer = Trainer(TrainConfig(env="Pendulum-v1", labels=40, reward_level="zero", progress=False), tmp_path / "r")
    try:
        step(trainer.loop, done=True)
        assert not trainer.loop.floor
    finally:
        trainer.close()
