"""Labels travel: a run's labels, with their clips, go to a file and into another run, or into a reward model."""

import json

import numpy as np
import pytest

import prefrl
from prefrl.cli import main
from prefrl.control.segments import Segment
from prefrl.core.store import LabelStore

TINY = dict(
    labels=12, timesteps=512, eval_freq=256, eval_episodes=1, progress=False, ppo={"n_steps": 256, "n_epochs": 1}
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labels") / "run"
    prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", **TINY), folder)
    return folder


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_runs_labels_move_to_another_run_of_the_same_env(run, tmp_path, suffix, capsys):
    path = tmp_path / f"labels{suffix}"
    assert main(["labels", "export", str(run), "--out", str(path)]) == 0
    assert "12 labels written" in capsys.readouterr().out
    other = tmp_path / "other"
    prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", seed=1, **TINY), other)
    assert main(["labels", "import", str(other), str(path)]) == 0
    assert "12 labels added" in capsys.readouterr().out

    source, target = LabelStore(run / "labels.sqlite", create=False), LabelStore(other / "labels.sqlite", create=False)
    imported = [r for r in target.labels() if str(r["annotator"]).startswith("imported:")]
    assert [r["choice"] for r in imported] == [r["choice"] for r in source.labels()]
    assert {r["annotator"] for r in imported} == {"imported:oracle:perfect"}
    for mine, theirs in zip(imported, source.labels()):  # the very clips compared, arrays and all
        for side in ("item_a", "item_b"):
            a, b = (Segment.from_bytes(store.item(r[side])) for store, r in ((target, mine), (source, theirs)))
            for key in ("obs", "actions", "true_rewards", "qpos", "qvel"):
                assert np.array_equal(getattr(a, key), getattr(b, key)), key
            assert (a.episode, a.start, a.terminated) == (b.episode, b.start, b.terminated)
    assert len(target.comparisons()) == 24  # its own 12 and the imported 12 train its next refit


def test_a_reward_model_fits_on_a_run_or_its_exported_file_in_one_call(run, tmp_path):
    assert main(["labels", "export", str(run), "--out", str(tmp_path / "l.jsonl")]) == 0
    from_run = prefrl.fit_reward_model(run, seed=3)
    from_file = prefrl.fit_reward_model(tmp_path / "l.jsonl", seed=3)
    features = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)  # Pendulum: 3 obs + 1 action
    assert np.array_equal(from_run.predict(features), from_file.predict(features))
    assert from_run.fits == 1 and np.isfinite(from_run.predict(features)).all()


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"clip": 1, "obs": [[1, 2]]}\n', "not a clip prefrl can read"),
        ("not json\n", "is not a labels file prefrl can read"),
    ],
)
def test_a_file_that_is_not_labels_is_refused_in_one_line(run, tmp_path, capsys, content, needle):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    assert main(["labels", "import", str(run), str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prefrl: error:") and "\n" not in err and needle in err


def test_labels_of_another_env_are_refused_in_one_line(run, tmp_path, capsys):
    assert main(["labels", "export", str(run), "--out", str(tmp_path / "l.jsonl")]) == 0
    other = tmp_path / "hopper"
    prefrl.train(prefrl.TrainConfig(env="tests.tiny_envs:ten_step_time_limit", **TINY), other)
    assert main(["labels", "import", str(other), str(tmp_path / "l.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "holds clips of 3 observations and 1 actions a step" in err and "import labels of that env" in err
    assert json.loads((other / "config.json").read_text())["env"] == "tests.tiny_envs:ten_step_time_limit"
