"""What the reward model sees of a step: the observation and the action, or with `--reward-input transition` the
observation the step led to as well (the episode's last one where it ended, never the next episode's first)."""

import json

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

import prefrl
from prefrl.cli import main
from prefrl.control.envs import make_env
from prefrl.control.labels import labelled
from prefrl.control.segments import Segment, SegmentCutter
from prefrl.control.wrappers import LearnedRewardVecEnv
from prefrl.core.store import LabelStore

TINY = dict(
    labels=12, timesteps=512, eval_freq=256, eval_episodes=1, progress=False, ppo={"n_steps": 256, "n_epochs": 1}
)
DYING = "tests.tiny_envs:dying_early"  # observations (x, t / 10); episodes terminate after 3-10 steps


def test_a_clip_with_next_observations_gives_the_model_observation_action_and_next_observation():
    cutter = SegmentCutter(1, 3)
    clips = []
    for t in range(3):
        obs, nxt = np.full((1, 2), t, np.float32), np.full((1, 2), t + 1, np.float32)
        clips += cutter.add(
            obs, np.full((1, 1), -t, np.float32), np.zeros(1), np.array([False]), [{"next_obs": nxt[0]}]
        )
    (clip,) = clips
    assert clip.features.shape == (3, 5)
    np.testing.assert_array_equal(clip.features[:, 3:], clip.obs + 1)
    again = Segment.from_bytes(clip.to_bytes())  # what the label store keeps
    np.testing.assert_array_equal(again.features, clip.features)


def test_the_wrapper_hands_the_model_each_steps_next_observation_and_the_last_one_of_an_ended_episode():
    seen = []
    venv = LearnedRewardVecEnv(DummyVecEnv([lambda: make_env(DYING)]), lambda f: seen.append(f) or f[:, 0],
                               transition=True)  # fmt: skip
    venv.seed(0)
    obs = venv.reset()
    ended = 0
    for _ in range(40):
        new_obs, _, dones, infos = venv.step(np.array([[0.5]]))
        features = seen[-1][0]
        np.testing.assert_array_equal(features[:2], obs[0])
        if dones[0]:  # the next episode's first observation came back; the model sees how this one ended
            ended += 1
            np.testing.assert_array_equal(features[3:], infos[0]["terminal_observation"])
            assert features[4] > 0 and new_obs[0][1] == 0  # t / 10 at the end, 0 at the next start
        else:
            np.testing.assert_array_equal(features[3:], new_obs[0])
        np.testing.assert_array_equal(infos[0]["next_obs"], features[3:])
        obs = new_obs
    assert ended >= 3


@pytest.fixture(scope="module")
def transition_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("transition") / "run"
    prefrl.train(prefrl.TrainConfig(env=DYING, reward_input="transition", **TINY), folder)
    return folder


def test_a_run_on_transitions_stores_clips_whose_next_observations_follow_on(transition_run):
    assert json.loads((transition_run / "config.json").read_text())["reward_input"] == "transition"
    store = LabelStore(transition_run / "labels.sqlite", create=False)
    try:
        clips, rows = labelled(store)
    finally:
        store.close()
    assert len(rows) == 12
    for clip in clips.values():
        assert clip.next_obs is not None and clip.next_obs.shape == clip.obs.shape
        np.testing.assert_array_equal(clip.next_obs[:-1], clip.obs[1:])
    model = prefrl.fit_reward_model(transition_run)
    assert model.in_dim == 2 + 1 + 2


def test_labels_of_a_run_that_saw_other_inputs_are_refused_in_one_line(transition_run, tmp_path, capsys):
    plain = tmp_path / "plain"
    prefrl.train(prefrl.TrainConfig(env=DYING, **TINY), plain)
    assert main(["labels", "export", str(transition_run), "--out", str(tmp_path / "l.jsonl")]) == 0
    assert main(["labels", "import", str(plain), str(tmp_path / "l.jsonl")]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds clips with next observations" in err and "--reward-input state-action" in err
    assert len(err.splitlines()) == 1
