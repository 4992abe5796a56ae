"""`prefrl train --teacher human`: queries wait in the store for people; the trainer waits for the up-front ones, and
for a person who falls behind (unless --no-wait)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from prefrl.control import run_folder as rf
from prefrl.core.store import LabelStore

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--env", "HalfCheetah-v5", "--ppo", "n_steps=256", "--ppo", "n_epochs=2", "--eval-freq", "1024",
        "--eval-episodes", "2", "--segment-length", "10", "--quiet"]  # fmt: skip


def start(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "prefrl", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # fmt: skip


def wait_state(store_path, state, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if store_path.exists() and LabelStore(store_path, create=False).get_state("trainer") == state:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise TimeoutError(state)


def test_a_human_run_waits_for_up_front_labels_stops_cleanly_and_resumes(tmp_path):
    run = tmp_path / "run"
    clips = tmp_path / "clips"
    trainer = start("train", *TINY, "--teacher", "human", "--labels", "12", "--timesteps", "2048",
                    "--out", str(run), "--clips", str(clips))  # fmt: skip
    wait_state(run / rf.STORE, "waiting for labels", trainer)
    store = LabelStore(run / rf.STORE, create=False)
    assert store.count_queries("pending") == 3  # a quarter of the budget, asked up front
    assert not (run / rf.POLICY).exists()  # and PPO has not started
    deadline = time.time() + 60  # the trainer renders their clips ahead of the person
    while len(list((clips / "run").glob("*.mp4"))) < 6:
        assert time.time() < deadline, "clips of the up-front queries were not rendered"
        time.sleep(0.2)
    trainer.send_signal(signal.SIGTERM)
    _, err = trainer.communicate(timeout=60)
    assert trainer.returncode == 130 and "--resume" in err
    assert store.get_state("trainer") == "stopped"

    resumed = start("train", "--resume", str(run))
    wait_state(run / rf.STORE, "waiting for labels", resumed)
    assert store.count_queries() == 3  # the same questions, not new ones
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", PYTHONPATH=str(ROOT))
    person = subprocess.Popen([sys.executable, "-m", "tests.label_driver", str(run), "ann", "--idle-exit", "60"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    out, err = resumed.communicate(timeout=300)
    person.terminate()
    person.wait()
    assert resumed.returncode == 0, err
    assert store.get_state("trainer") == "finished"
    assert store.count_queries() == 12  # the rest was asked while PPO trained, without waiting for answers
    assert (run / rf.POLICY).exists() and (run / rf.REWARD).exists()
    assert all(r["annotator"] == "ann" for r in store.labels())
    used = int(rf.read_metrics(run)[-1]["labels"])  # the labels the final model was fitted on, not the budget
    assert f"{used} human labels" in out and ("(of 12 asked for)" in out) == (used < 12)


def test_a_new_run_folder_holds_its_config_before_its_label_store(tmp_path):
    """A labelling window may open the moment labels.sqlite appears; config.json must already be beside it."""
    from prefrl.control.config import TrainConfig
    from prefrl.control.trainer import Trainer

    trainer = Trainer(TrainConfig(env="HalfCheetah-v5", teacher="human"), tmp_path / "run")
    assert (tmp_path / "run" / rf.STORE).exists()
    assert rf.read_json(tmp_path / "run" / rf.CONFIG)["env"] == "HalfCheetah-v5"
    trainer.store.close()


def test_ppo_waits_for_a_person_who_falls_behind_and_never_with_no_wait(tmp_path):
    from prefrl.core.comparisons import Choice

    def run(name, *extra):
        out = tmp_path / name
        trainer = start("train", *TINY, "--teacher", "human", "--labels", "12", "--timesteps", "2048",
                        "--max-lag", "2", "--out", str(out), "--clips", str(tmp_path / "clips"), *extra)  # fmt: skip
        wait_state(out / rf.STORE, "waiting for labels", trainer)
        store = LabelStore(out / rf.STORE, create=False)
        waited_after_start = trained = False
        while trainer.poll() is None:
            state = store.get_state("trainer")
            trained = trained or state == "running"
            waited_after_start = waited_after_start or (trained and state == "waiting for labels")
            while state == "waiting for labels" and (query := store.claim("person")) is not None:
                store.answer(query[0], Choice.LEFT, annotator="person")
            time.sleep(0.2)
        out_text, err = trainer.communicate()
        assert trainer.returncode == 0, err
        return waited_after_start, int(rf.read_metrics(out)[-1]["labels"])

    waited, used = run("paced")
    assert waited and used > 3  # PPO waited for the labels asked while it trained, and the final model has them
    waited, used = run("async", "--no-wait")
    assert not waited and used == 3  # only the up-front labels, which every run waits for
