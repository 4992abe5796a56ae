"""The public Python API: `prefrl.train` runs what `prefrl train` runs, with the same checks."""

import pytest

import prefrl
from prefrl.errors import PrefrlError


def test_the_package_exports_the_api_it_documents():
    assert set(prefrl.__all__) >= {"train", "TrainConfig", "Trainer", "PPOConfig", "RewardConfig", "Teacher"}
    assert all(getattr(prefrl, name) is not None for name in prefrl.__all__)


def test_train_runs_a_preference_run_to_its_end_and_returns_the_last_evaluation(tmp_path):
    config = prefrl.TrainConfig(
        env="Pendulum-v1", labels=8, timesteps=512, eval_freq=256, eval_episodes=1, progress=False,
        ppo=prefrl.PPOConfig(n_steps=256, batch_size=64, n_epochs=1),
    )  # fmt: skip
    row = prefrl.train(config, tmp_path / "run")
    assert row["timesteps"] == 512 and row["labels"] == 8
    assert (tmp_path / "run" / "policy.pt").exists()


def test_train_refuses_bad_settings_before_anything_is_written(tmp_path):
    with pytest.raises(PrefrlError, match="--ppo learning_rate=-1: must be a positive number"):
        prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", ppo=prefrl.PPOConfig(learning_rate=-1)), tmp_path / "r")
    assert not (tmp_path / "r").exists()


TINY = dict(
    labels=8, timesteps=512, eval_freq=256, eval_episodes=1, progress=False, ppo={"n_steps": 256, "n_epochs": 1}
)


def test_a_trainer_learns_predicts_saves_loads_and_learns_on(tmp_path):
    import numpy as np

    trainer = prefrl.Trainer(prefrl.TrainConfig(env="Pendulum-v1", **TINY), tmp_path / "run")
    row = trainer.learn()
    assert row["timesteps"] == 512 and trainer.policy.num_timesteps == 512
    obs = np.array([[1.0, 0.0, 0.3], [0.0, 1.0, -2.0]], dtype=np.float32)
    action = trainer.predict(obs)
    assert action.shape == (2, 1)
    features = np.concatenate([obs, action], axis=1)
    saved = trainer.save(tmp_path / "copy")

    loaded = prefrl.Trainer.load(saved)  # weights only, nothing unpickled
    assert np.array_equal(loaded.predict(obs), action)  # the same policy, observations normalised the same way
    assert np.array_equal(loaded.reward_model.predict(features), trainer.reward_model.predict(features))
    row = loaded.learn(1024)  # on to twice the steps, the rest of the budget spread over them
    assert row["timesteps"] == 1024 and loaded.config.timesteps == 1024
    assert [int(r["timesteps"]) for r in prefrl_metrics(saved)] == [0, 256, 512, 768, 1024]
    assert [int(r["timesteps"]) for r in prefrl_metrics(tmp_path / "run")] == [0, 256, 512]  # the original stays


def prefrl_metrics(run):
    from prefrl.control.run_folder import read_metrics

    return read_metrics(run)


def test_an_env_class_or_factory_of_your_own_is_recorded_by_name(tmp_path):
    from tests import tiny_envs

    config = prefrl.TrainConfig(env=tiny_envs.ten_step_time_limit, **TINY)
    assert config.env == "tests.tiny_envs:ten_step_time_limit"
    prefrl.train(config, tmp_path / "run")
    with pytest.raises(PrefrlError, match="define it at the top level of a module"):
        prefrl.TrainConfig(env=lambda: tiny_envs.ten_step_time_limit())


def test_the_api_and_the_command_line_write_the_same_config(tmp_path):
    import json

    from prefrl.cli import main

    prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", **TINY), tmp_path / "api")
    flags = ["--env", "Pendulum-v1", "--labels", "8", "--timesteps", "512", "--eval-freq", "256", "--eval-episodes",
             "1", "--ppo", "n_steps=256", "--ppo", "n_epochs=1", "--quiet", "--out", str(tmp_path / "cli")]  # fmt: skip
    assert main(["train", *flags]) == 0
    api, cli = (json.loads((tmp_path / name / "config.json").read_text()) for name in ("api", "cli"))
    assert api == cli


def test_a_config_from_a_newer_prefrl_is_refused_in_one_line(tmp_path, capsys):
    import json

    from prefrl.cli import main

    prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", **TINY), tmp_path / "run")
    path = tmp_path / "run" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "version": 99}))
    assert main(["train", "--resume", str(tmp_path / "run"), "--timesteps", "1024"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "written by a newer prefrl (format version 99" in err


def test_a_ready_made_teacher_runs_exactly_the_preset_it_names(tmp_path):
    import json

    from prefrl.core.store import LabelStore

    prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", teacher="noisy", **TINY), tmp_path / "named")
    prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", **TINY), tmp_path / "handed", teacher=prefrl.teachers.noisy)
    named, handed = (json.loads((tmp_path / run / "config.json").read_text()) for run in ("named", "handed"))
    assert handed == named and handed["teacher"] == "noisy"  # recorded by name: resumable from the command line
    answers = [
        [c.choice for c in LabelStore(tmp_path / run / "labels.sqlite").comparisons()] for run in ("named", "handed")
    ]
    assert answers[0] == answers[1] and len(answers[0]) == 8  # seeded by the run's seed, as the named preset is

    changed = prefrl.make_teacher("mistake", epsilon=0.3)
    prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", **TINY), tmp_path / "changed", teacher=changed)
    recorded = json.loads((tmp_path / "changed" / "config.json").read_text())
    assert (recorded["teacher"], recorded["epsilon"]) == ("mistake", 0.3)
