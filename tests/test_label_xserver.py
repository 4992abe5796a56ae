"""The labelling window on a real X server: what a person sees, and a scripted person teaching a training run."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from prefrl.control import run_folder as rf
from prefrl.core.store import LabelStore
from tests.label_runs import make_label_run
from tests.xserver import find_window, have_x_tools, screenshot, screenshot_when_shown, xvfb

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(not have_x_tools(), reason="needs Xvfb, xwd and xdotool (.ci/run installs them)")


@pytest.fixture
def display():
    with xvfb() as name:
        yield name


def prefrl(*args, display, **kw):
    env = dict(os.environ, DISPLAY=display, SDL_VIDEODRIVER="x11", PYTHONPATH=str(ROOT))
    env.pop("PYOPENGL_PLATFORM", None)  # what an earlier test in this worker left set is not the child's to inherit
    return subprocess.Popen([sys.executable, "-m", "prefrl", *args], env=env, cwd=ROOT, **kw)


def test_the_window_shows_two_rendered_clips_and_a_status_line(tmp_path, display):
    make_label_run(tmp_path / "run", 2, env_id="Hopper-v5", length=30)
    window = prefrl("label", str(tmp_path / "run"), "--annotator", "shot", display=display,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    image = screenshot_when_shown(display, window, tmp_path / "run" / rf.STORE, 120, settle_s=1.5)
    from PIL import Image

    Image.fromarray(image).save(os.environ.get("PREFRL_SCREENSHOT", tmp_path / "window.png"))
    size, margin, top = 384, 24, 64
    background = np.array([24, 24, 28])
    for x0 in (margin, 2 * margin + size):
        clip = image[top : top + size, x0 : x0 + size].astype(int)
        assert clip.std() > 10, "clip area is blank"
        assert np.abs(clip.reshape(-1, 3) - background).sum(1).mean() > 30, "clip area shows only the background"
        assert len(np.unique(clip.reshape(-1, 3) // 16, axis=0)) > 20, "clip area is not a rendered scene"
    status = image[top + size + 36 : top + size + 60].astype(int)  # under the clips' names, A and B
    yellow = (np.abs(status - np.array([220, 220, 120])).sum(-1) < 60).sum()
    assert yellow > 200, "status line not drawn"


def test_a_scripted_person_teaches_a_training_run_through_the_window(tmp_path, display):
    run = tmp_path / "run"
    trainer = prefrl(
        "train", "--env", "HalfCheetah-v5", "--teacher", "human", "--labels", "40", "--timesteps", "8192",
        "--segment-length", "15", "--eval-freq", "4096", "--quiet", "--out", str(run), "--clips", str(tmp_path / "clips"),
        "--label-halving", "2e6",  # labels spread over the whole 8k steps; the default asks most in the first 1,600
        display=display, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while not (run / rf.STORE).exists():
        assert trainer.poll() is None, trainer.communicate()
        time.sleep(0.2)
    window = prefrl("label", str(run), "--annotator", "script", "--clip-size", "192", display=display,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    person = None
    try:
        wid = find_window(display, "prefrl label", proc=window)
        person = subprocess.Popen(
            [sys.executable, "-m", "tests.scripted_person", str(run / rf.STORE), "script", wid],
            env=dict(os.environ, DISPLAY=display, PYTHONPATH=str(ROOT)), cwd=ROOT, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        out, err = trainer.communicate(timeout=600)
        assert trainer.returncode == 0, err[-2000:]
    finally:
        for proc in (window, person):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    store = LabelStore(run / rf.STORE, create=False)
    labels = store.labels("script")
    assert len(labels) >= 10  # the up-front quarter, then labels while PPO trained
    rows = rf.read_metrics(run)
    assert rows[-1]["labels"] > rows[0]["labels"]  # labels kept arriving during training
    # what the person taught is what the run's reward model learned: it orders the pairs they labelled their way
    # (how well it generalises to new clips is learning quality, measured in benchmarks/, not here)
    assert agreement_with_labels(run, store) > 0.75  # chance is 0.5; a left/right mix-up would give well under it


def agreement_with_labels(run: Path, store: LabelStore) -> float:
    """Share of the labelled pairs (ties left out) that the run's saved reward ensemble orders as they were labelled."""
    import gymnasium as gym

    from prefrl.control.config import TrainConfig
    from prefrl.control.segments import Segment, batch_features
    from prefrl.core.comparisons import Choice
    from prefrl.core.reward import RewardEnsemble

    config = TrainConfig.from_dict(rf.read_json(run / rf.CONFIG))
    env = gym.make(config.env)
    ensemble = RewardEnsemble(env.observation_space.shape[0] + env.action_space.shape[0], config.reward_model)
    ensemble.load(run / rf.REWARD)
    pairs = [c for c in store.comparisons() if c.choice != Choice.EQUAL]
    segments = [Segment.from_bytes(store.item(i)) for c in pairs for i in (c.a, c.b)]
    items, mask = batch_features(segments, max(len(s) for s in segments))
    predicted = ensemble.member_returns(items, mask).mean(0).reshape(-1, 2)
    said_a = np.array([c.choice == Choice.LEFT for c in pairs])
    return float(np.mean((predicted[:, 0] > predicted[:, 1]) == said_a))


def test_watch_plays_the_policy_in_a_window(tmp_path, display):
    run = tmp_path / "run"
    train = prefrl("train", "--env", "Hopper-v5", "--reward", "true", "--timesteps", "2048", "--eval-episodes", "1",
                   "--quiet", "--out", str(run), display=display, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    assert train.wait(timeout=300) == 0
    watch = prefrl("watch", str(run), "--size", "128", "--max-steps", "1000", display=display,  # up for ~8 s
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        try:
            image = screenshot(display, find_window(display, "prefrl watch", proc=watch))
        except RuntimeError as exc:
            raise AssertionError(f"{exc}: {watch.communicate()[1][-1500:]}") from None
    finally:
        watch.terminate()
        watch.wait(timeout=30)
    assert image.shape[:2] == (128, 128) and image.std() > 10
