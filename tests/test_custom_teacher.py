"""A teacher of the user's own, from Python or named on the command line, labels the run's queries from the clips
themselves; a run folder alone never makes prefrl import it."""

import json
import sqlite3

import pytest

from prefrl.cli import main
from prefrl.control import run_folder as rf
from prefrl.control.ppo_config import PPOConfig
from prefrl.control.segments import Segment
from prefrl.core.comparisons import Choice
from tests.custom_teachers import PrefersStill
from tests.test_examples import example

TINY_PPO = PPOConfig(n_steps=256, batch_size=64, n_epochs=1)
TINY = ["--timesteps", "512", "--labels", "12", "--ppo", "n_steps=256", "--ppo", "n_epochs=1", "--eval-episodes", "1"]


def stored_labels(run):
    """(clip a, clip b, choice, annotator) of every label, the clips read back from the store."""
    db = sqlite3.connect(run / rf.STORE)
    clips = {i: Segment.from_bytes(p) for i, p in db.execute("SELECT id, payload FROM items")}
    rows = db.execute("SELECT item_a, item_b, choice, annotator FROM labels ORDER BY id").fetchall()
    db.close()
    return [(clips[a], clips[b], Choice(c), who) for a, b, c, who in rows]


@pytest.fixture(scope="module")
def upright_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("api") / "upright"
    module = example("custom_teacher")
    module.main(str(run), timesteps=512, labels=12, ppo=TINY_PPO, eval_episodes=1, progress=False)
    return run, module


def test_the_example_teacher_from_python_answers_every_query_from_the_clips_it_is_shown(upright_run):
    run, module = upright_run
    labels = stored_labels(run)
    assert len(labels) == 12
    assert all(choice is module.prefers_upright(a, b) for a, b, choice, _ in labels)
    assert {who for *_, who in labels} == {"oracle:prefers_upright"}
    assert json.loads((run / rf.CONFIG).read_text())["teacher"] == "custom"


def test_a_run_labelled_by_a_python_object_is_resumed_from_python_not_from_the_command_line(upright_run, capsys):
    run, _ = upright_run
    assert main(["train", "--resume", str(run), "--timesteps", "1024"]) == 2
    err = capsys.readouterr().err.strip()
    assert "teacher object from Python" in err and "resume=True, teacher=" in err and "\n" not in err


def test_a_teacher_named_on_the_command_line_labels_the_run_and_must_be_named_again_to_resume(tmp_path, capsys):
    run = tmp_path / "still"
    spec = "tests.custom_teachers:PrefersStill"
    assert main(["train", "--env", "HalfCheetah-v5", "--teacher", spec, *TINY, "--out", str(run), "--quiet"]) == 0
    labels = stored_labels(run)
    teacher = PrefersStill()
    assert len(labels) == 12 and all(choice is teacher.label(a, b) for a, b, choice, _ in labels)
    assert {who for *_, who in labels} == {"oracle:prefers-still"}
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--timesteps", "1024"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"add --teacher {spec}" in err and "\n" not in err


@pytest.mark.parametrize(
    "spec, why",
    [
        ("tests.custom_teachers:Nobody", "has no 'Nobody'"),
        ("no_such_module_here:Teacher", "cannot import 'no_such_module_here'"),
        ("tests.custom_teachers:NOT_A_TEACHER", "3 (int) is not a teacher"),
    ],
)
def test_a_teacher_that_cannot_be_loaded_is_a_one_line_error_before_anything_is_written(spec, why, tmp_path, capsys):
    assert main(["train", "--env", "HalfCheetah-v5", "--teacher", spec, *TINY, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert why in err and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_a_teacher_is_shown_each_steps_env_info_beside_the_observations_and_actions(tmp_path):
    import numpy as np

    import prefrl
    from tests.custom_teachers import FasterByInfo

    teacher = FasterByInfo()
    config = prefrl.TrainConfig(env="HalfCheetah-v5", timesteps=512, labels=12, ppo=TINY_PPO, eval_episodes=1,
                                progress=False)  # fmt: skip
    prefrl.train(config, tmp_path / "run", teacher=teacher)
    assert len(teacher.shown) == 12
    for a, b, _ in teacher.shown:
        for clip in (a, b):
            assert {"x_position", "x_velocity", "reward_ctrl"} <= set(clip.info)  # HalfCheetah's own entries
            assert not {"qpos", "true_reward"} & set(clip.info)  # prefrl's own bookkeeping is not the env's
            assert all(len(v) == len(clip) for v in clip.info.values())
            # the velocity the env reported is the one the forward reward was paid for (reward_forward = v)
            assert np.allclose(clip.info["x_velocity"], clip.info["reward_forward"])
    stored = [choice for _, _, choice, _ in stored_labels(tmp_path / "run")]
    assert stored == [answer for _, _, answer in teacher.shown]
