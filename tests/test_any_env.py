"""The loop runs on any gymnasium env with Box observations and actions, and never hangs on one it cannot cut clips
from: short episodes, variable episodes, non-MuJoCo envs, and the paper's shortest task, Reacher."""

import json
import time

import numpy as np
import pytest

from prefrl.cli import main
from prefrl.control import run_folder as rf
from prefrl.control.config import TrainConfig
from prefrl.control.ppo_config import PPOConfig
from prefrl.control.trainer import Trainer
from prefrl.errors import PrefrlError

TINY_PPO = PPOConfig(n_steps=128, batch_size=64, n_epochs=2)


def tiny_run(tmp_path, env, **kw):
    config = TrainConfig(
        env=env, labels=12, timesteps=512, eval_freq=256, eval_episodes=2, progress=False, ppo=TINY_PPO, **kw
    )
    Trainer(config, tmp_path / "run").run()
    return json.loads((tmp_path / "run" / "config.json").read_text()), rf.read_metrics(tmp_path / "run")


@pytest.mark.parametrize(
    ("env", "steps"),
    [("tests.tiny_envs:ten_step_time_limit", 10), ("tests.tiny_envs:dying_early", 30)],
)
def test_envs_with_episodes_shorter_than_a_clip_complete_a_run(tmp_path, env, steps):
    config, metrics = tiny_run(tmp_path, env)
    # a time limit caps the clip at a whole episode; an episode that ends itself early leaves a shorter, padded clip
    assert config["segment_length"] == steps
    assert metrics[-1]["labels"] == 12 and metrics[-1]["timesteps"] >= 512


def test_reacher_completes_a_run_with_clips_of_its_whole_one_second_episode(tmp_path):
    config, metrics = tiny_run(tmp_path, "Reacher-v5")
    assert config["segment_length"] == 50
    assert metrics[-1]["labels"] == 12


def test_a_loop_that_can_cut_no_clip_stops_within_seconds_naming_the_fix(tmp_path):
    start = time.monotonic()
    with pytest.raises(PrefrlError, match=r"no 30-step clip fits .* pass --segment-length 10 or less"):
        tiny_run(tmp_path, "tests.tiny_envs:cut_short_without_a_limit")
    assert time.monotonic() - start < 30


def test_a_classic_control_env_runs_end_to_end_from_the_command_line(tmp_path, capsys):
    out = tmp_path / "pendulum"
    flags = ["--ppo", "n_steps=256", "--ppo", "n_epochs=2", "--eval-freq", "512", "--eval-episodes", "2", "--quiet"]
    assert (
        main(["train", "--env", "Pendulum-v1", "--labels", "16", "--timesteps", "1024", *flags, "--out", str(out)]) == 0
    )
    config = json.loads((out / "config.json").read_text())
    assert config["segment_length"] == 30  # 1.5 s of its 0.05-s steps
    assert rf.read_metrics(out)[-1]["labels"] == 16
    assert (out / "policy.zip").exists() and (out / "learning_curve.png").exists()


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ("CartPole-v1", "CartPole-v1 has Discrete actions; prefrl's control loop needs continuous (Box) actions"),
        ("tests.tiny_envs:Pixels", "observes images (shape (8, 8, 3))"),
        ("tests.tiny_envs:nothing", "module 'tests.tiny_envs' has no 'nothing'"),
    ],
)
def test_envs_the_loop_cannot_learn_in_are_refused_in_one_line(capsys, tmp_path, env, needle):
    assert main(["train", "--env", env, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prefrl: error: ") and "\n" not in err and needle in err
    assert not (tmp_path / "r").exists()


def test_a_person_labels_a_classic_control_env_from_clips_filmed_with_env_render(tmp_path):
    """Pendulum-v1 has no MuJoCo state to re-render from: its steps are filmed as the run goes, and a real window
    (SDL's dummy driver, keys pressed by the driver) shows them."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from prefrl.core.store import LabelStore
    from prefrl.media.clips import read_clip

    root = Path(__file__).resolve().parents[1]
    run, clips = tmp_path / "run", tmp_path / "clips"
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env.update(SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", PYTHONPATH=str(root))
    trainer = subprocess.Popen(
        [sys.executable, "-m", "prefrl", "train", "--env", "Pendulum-v1", "--teacher", "human", "--labels", "8",
         "--timesteps", "512", "--ppo", "n_steps=256", "--ppo", "n_epochs=1", "--eval-freq", "512",
         "--eval-episodes", "1", "--clip-size", "64", "--quiet", "--out", str(run), "--clips", str(clips)],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    procs = [trainer]
    try:
        deadline = time.time() + 120  # the window opens once the trainer waits for the up-front labels
        while not (
            (run / rf.STORE).exists()
            and LabelStore(run / rf.STORE, create=False).get_state("trainer") == "waiting for labels"
        ):
            assert trainer.poll() is None and time.time() < deadline, trainer.communicate()
            time.sleep(0.2)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "tests.label_driver", str(run), "ann", "--idle-exit", "60"],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        ))  # fmt: skip
        _, err = trainer.communicate(timeout=300)
    finally:
        for proc in procs:  # neither outlives the test, whatever happened
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    assert trainer.returncode == 0, err
    store = LabelStore(run / rf.STORE, create=False)
    assert store.count_labels() >= 2 and all(r["annotator"] == "ann" for r in store.labels())
    shown = sorted((clips / "run").glob("*.mp4"))
    assert shown, "no clip was filmed"
    frames, fps = read_clip(shown[0])
    meta = json.loads(shown[0].with_suffix(".json").read_text())
    assert frames.shape == (30, 64, 64, 3) and fps == 20.0  # 1.5 s of 0.05-s steps, one frame each, at 64 px
    assert meta["camera"] == "env.render()" and frames.std() > 5  # a picture of the pendulum, not a blank
    assert not np.array_equal(frames[0], frames[-1])  # that moves


def test_filming_costs_nothing_where_no_person_watches(tmp_path):
    from prefrl.control.segments import Segment
    from prefrl.core.store import LabelStore

    tiny_run(tmp_path, "Pendulum-v1")
    store = LabelStore(tmp_path / "run" / rf.STORE, create=False)
    segment = Segment.from_bytes(store.item(store.item_ids("segment")[0]))
    assert segment.frames.size == 0 and segment.qpos.size == 0


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ("tests.tiny_envs:Blind", "cannot be filmed for a person (env.render() in 'rgb_array' mode failed"),
        ("tests.tiny_envs:ten_step_time_limit", "takes no render_mode argument"),
    ],
)
def test_a_person_cannot_be_asked_to_label_an_env_that_cannot_be_filmed(capsys, tmp_path, env, needle):
    assert main(["train", "--env", env, "--teacher", "human", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prefrl: error: ") and "\n" not in err and needle in err
