"""The examples in examples/ run as written, on a tiny budget."""

import importlib.util
import json
from pathlib import Path

from prefrl.control import run_folder as rf
from prefrl.control.ppo_config import PPOConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(ppo=PPOConfig(n_steps=256, batch_size=64, n_epochs=1), eval_episodes=1, progress=False)


def example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_users_own_env_trains_from_synthetic_preferences(tmp_path):
    row = example("custom_env").main(str(tmp_path / "point"), timesteps=1024, labels=12, **TINY)
    assert row["timesteps"] >= 1024 and row["labels"] == 12
    config = json.loads((tmp_path / "point" / rf.CONFIG).read_text())
    assert config["env"] == "PointReach-v0" and config["segment_length"] == 30  # 1.5 s at its 20 steps a second
