"""A run folder is data, never code: resume and watch read weights only, one trainer writes a folder at a time, and
a corrupt checkpoint is named in one line."""

import base64
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import zipfile

import pytest

from prefrl.cli import main
from prefrl.control import run_folder as rf
from prefrl.control.config import TrainConfig
from prefrl.control.ppo_config import PPOConfig
from prefrl.control.trainer import Trainer


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant_code(policy_zip, marker):
    """Rewrite SB3's policy.zip so that unpickling its learning-rate schedule runs `touch marker`."""
    with zipfile.ZipFile(policy_zip) as z:
        entries = {name: z.read(name) for name in z.namelist()}
    data = json.loads(entries["data"])
    data["lr_schedule"][":serialized:"] = base64.b64encode(pickle.dumps(_Payload(marker))).decode()
    entries["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(policy_zip, "w") as z:
        for name, payload in entries.items():
            z.writestr(name, payload)


def tiny_run(folder, timesteps=512):
    config = TrainConfig(
        env="HalfCheetah-v5", labels=8, timesteps=timesteps, eval_freq=256, eval_episodes=1, progress=False,
        ppo=PPOConfig(n_steps=256, batch_size=64, n_epochs=1),
    )  # fmt: skip
    Trainer(config, folder).run()


def stretch(folder, timesteps):
    """The run as if it had been asked for more steps and stopped at its checkpoint."""
    config = json.loads((folder / rf.CONFIG).read_text())
    config["timesteps"] = timesteps
    (folder / rf.CONFIG).write_text(json.dumps(config))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("safety") / "run"
    tiny_run(folder)
    return folder


def test_resume_and_watch_never_unpickle_a_planted_policy_zip(run, tmp_path, capsys):
    marker = tmp_path / "pwned"
    plant_code(run / rf.POLICY, marker)
    from stable_baselines3 import PPO

    PPO.load(run / rf.POLICY)
    assert marker.exists()  # the plant works: SB3's own loader runs it
    marker.unlink()
    stretch(run, 768)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert rf.read_metrics(run)[-1]["timesteps"] >= 768  # it trained on, from the weights-only checkpoint
    assert main(["watch", str(run), "--mp4", str(tmp_path / "w.mp4"), "--max-steps", "20"]) == 0
    assert not marker.exists()


def test_resume_needs_no_policy_zip_at_all(run):
    (run / rf.POLICY).unlink()
    stretch(run, 1024)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert rf.read_metrics(run)[-1]["timesteps"] >= 1024


@pytest.mark.parametrize("damage", [b"", b"garbage", "truncated"])
@pytest.mark.parametrize("name", [rf.CHECKPOINT, rf.VECNORM])
def test_a_corrupt_checkpoint_is_named_in_one_line(tmp_path, capsys, name, damage):
    folder = tmp_path / "run"
    tiny_run(folder)
    stretch(folder, 768)
    path = folder / name
    path.write_bytes(path.read_bytes()[:100] if damage == "truncated" else damage)
    assert main(["train", "--resume", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prefrl: error: ") and "\n" not in err
    assert f"{path} is unreadable" in err and "restore it, or start a new run" in err


def test_a_second_trainer_on_a_folder_in_use_is_refused_naming_the_holder(run):
    holder = rf.RunLock(run)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "prefrl", "train", "--resume", str(run)], capture_output=True, text=True, timeout=120
        )
    finally:
        holder.release()
    assert proc.returncode == 2
    assert f"is in use by another prefrl trainer (PID {os.getpid()})" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_lock_of_a_killed_trainer_is_taken_over(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    code = f"from pathlib import Path; from prefrl.control.run_folder import RunLock; lock = RunLock(Path({str(folder)!r})); print('held', flush=True); import time; time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(Exception, match=f"PID {holder.pid}"):
        rf.RunLock(folder)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    time.sleep(0.1)
    rf.RunLock(folder).release()  # the OS dropped the dead holder's lock


def test_a_run_of_user_code_resumes_only_when_the_command_line_names_that_code_again(tmp_path, capsys):
    env = "tests.tiny_envs:ten_step_time_limit"
    folder = tmp_path / "run"
    config = TrainConfig(env=env, labels=8, timesteps=256, eval_freq=128, eval_episodes=1, progress=False,
                         ppo=PPOConfig(n_steps=128, batch_size=64, n_epochs=1))  # fmt: skip
    Trainer(config, folder).run()
    stretch(folder, 384)
    assert main(["train", "--resume", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"prefrl imports it only when the command line names it again: add --env {env}" in err
    assert main(["watch", str(folder), "--mp4", str(tmp_path / "w.mp4")]) == 2
    assert main(["train", "--resume", str(folder), "--env", env, "--quiet"]) == 0
    assert rf.read_metrics(folder)[-1]["timesteps"] >= 384


def test_watch_refuses_a_run_without_mujoco_state_in_one_line(tmp_path, capsys):
    config = TrainConfig(env="Pendulum-v1", labels=8, timesteps=256, eval_freq=256, eval_episodes=1, progress=False,
                         ppo=PPOConfig(n_steps=256, batch_size=64, n_epochs=1))  # fmt: skip
    Trainer(config, tmp_path / "run").run()
    assert main(["watch", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "prefrl: error: watch re-renders episodes from MuJoCo state, which Pendulum-v1 has none of"
