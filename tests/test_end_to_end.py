"""A real, tiny run on HalfCheetah-v5: killed mid-way with SIGKILL, resumed, and checked file by file."""

import csv
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

TINY = [
    "--env",
    "HalfCheetah-v5",
    "--ppo",
    "n_steps=256",
    "--ppo",
    "n_epochs=2",
    "--eval-freq",
    "1024",
    "--eval-episodes",
    "2",
    "--quiet",
]


def prefrl(*args, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "prefrl", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )


def label_rows(folder):
    db = sqlite3.connect(folder / "labels.sqlite")
    rows = db.execute("SELECT id, query_id, item_a, item_b, choice, annotator FROM labels ORDER BY id").fetchall()
    db.close()
    return rows


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e") / "hc"
    proc = prefrl("train", *TINY, "--labels", "40", "--timesteps", "6144", "--seed", "1", "--out", str(out))
    progress = out / "progress.json"
    deadline = time.time() + 300
    while time.time() < deadline:
        if progress.exists() and json.loads(progress.read_text())["timesteps"] >= 1024:
            break
        if proc.poll() is not None:
            pytest.fail(f"run ended before it could be killed: {proc.communicate()}")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = json.loads(progress.read_text())["timesteps"]
    labels_before = label_rows(out)
    assert killed_at < 6144, "the run finished before the kill; the test did not test resume"
    done = prefrl("train", "--resume", str(out))
    stdout, stderr = done.communicate(timeout=600)
    assert done.returncode == 0, stderr
    return out, labels_before, killed_at, stdout


def test_run_folder_is_complete(resumed_run):
    out, *_ = resumed_run
    for name in [
        "config.json",
        "labels.sqlite",
        "reward_model.pt",
        "policy.zip",
        "policy.pt",
        "vecnormalize.npz",
        "vecnormalize.pkl",
        "metrics.csv",
        "learning_curve.png",
        "progress.json",
    ]:
        assert (out / name).stat().st_size > 0, name
    assert list((out / "tb").rglob("events.out.tfevents.*")), "no TensorBoard logs"
    config = json.loads((out / "config.json").read_text())
    assert config["env"] == "HalfCheetah-v5" and config["labels"] == 40 and config["ppo"]["n_steps"] == 256


def test_tensorboard_shows_how_each_refit_moved_the_reward(resumed_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, *_ = resumed_run
    values: dict[str, list[float]] = {}
    for events in (out / "tb").rglob("events.out.tfevents.*"):
        acc = EventAccumulator(str(events))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            values.setdefault(tag, []).extend(e.value for e in acc.Scalars(tag))
    for key in ("correlation", "slope", "level_shift"):
        assert values.get(f"prefrl/refit_{key}"), f"no prefrl/refit_{key} in TensorBoard"
    assert all(-1.0 <= c <= 1.0 for c in values["prefrl/refit_correlation"])


def test_metrics_have_one_row_per_evaluation_with_true_return_and_accuracy(resumed_run):
    out, *_ = resumed_run
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    steps = [int(r["timesteps"]) for r in rows]
    assert steps == sorted(set(steps)), "duplicate or out-of-order evaluations after resume"
    assert steps[0] == 0 and steps[-1] >= 6144
    for r in rows:
        assert np.isfinite(float(r["true_return_mean"])) and float(r["true_return_std"]) >= 0
        assert 0.0 <= float(r["reward_model_accuracy"]) <= 1.0
    assert int(rows[-1]["labels"]) == 40


def test_metrics_account_for_where_the_time_went_across_the_resume(resumed_run):
    out, *_ = resumed_run
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    keys = ("refit_seconds", "reward_step_seconds", "update_seconds", "eval_seconds")
    for key in keys:
        spent = [float(r[key]) for r in rows]
        assert spent[0] > 0 if key == "refit_seconds" else spent[0] >= 0  # the up-front labels were fitted
        assert spent == sorted(spent), f"{key} went down: the resume lost the time spent before the kill"
        assert spent[-1] > 0
    for r in rows:  # parts of the wall clock, none counted twice
        assert sum(float(r[k]) for k in keys) < float(r["wall_time"])


def test_resume_keeps_every_label_and_spends_the_whole_budget(resumed_run):
    out, labels_before, killed_at, stdout = resumed_run
    after = label_rows(out)
    assert labels_before and after[: len(labels_before)] == labels_before
    assert len(after) == 40
    assert all(a.startswith("oracle:") for *_, a in after)
    assert "after 6144 steps" in stdout


def test_policy_and_reward_model_load_with_plain_tools(resumed_run):
    out, *_ = resumed_run
    model = PPO.load(out / "policy.zip", device="cpu")
    assert model.num_timesteps >= 6144
    action, _ = model.predict(np.zeros(17, dtype=np.float32), deterministic=True)
    assert action.shape == (6,)
    state = torch.load(out / "reward_model.pt", weights_only=True)
    assert state["out_std"].shape == (3,)


def test_resume_refuses_a_corrupt_store_and_leaves_it_alone(resumed_run, tmp_path, capsys):
    out, *_ = resumed_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for extra in copy.glob("labels.sqlite-*"):
        extra.unlink()
    (copy / "labels.sqlite").write_bytes(b"garbage" * 1000)
    from prefrl.cli import main

    assert main(["train", "--resume", str(copy), "--timesteps", "8192"]) == 2  # extended: the store is opened
    err = capsys.readouterr().err
    assert "not a readable prefrl label store" in err and "Traceback" not in err
    assert (copy / "labels.sqlite").read_bytes() == b"garbage" * 1000


def test_true_reward_baseline_uses_the_same_command(tmp_path):
    out = tmp_path / "true"
    proc = prefrl("train", *TINY, "--reward", "true", "--timesteps", "1024", "--out", str(out))
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "the true reward" in stdout
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert rows[-1]["reward_model_accuracy"] == "" and int(rows[-1]["labels"]) == 0
    assert rows[-1]["refit_seconds"] == rows[-1]["reward_step_seconds"] == ""  # no learned reward, no cost
    assert 0 < float(rows[-1]["update_seconds"]) + float(rows[-1]["eval_seconds"]) < float(rows[-1]["wall_time"])
    assert PPO.load(out / "policy.zip").num_timesteps == 1024


def test_resuming_a_finished_run_changes_nothing(resumed_run):
    out, *_ = resumed_run
    before = (out / "metrics.csv").read_text()
    labels = label_rows(out)
    proc = prefrl("train", "--resume", str(out))
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "is finished (6144 steps, 40 labels)" in stdout
    assert (out / "metrics.csv").read_text() == before
    assert label_rows(out) == labels
