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


def test_the_feast_task_is_files_and_a_function_that_a_text_run_reads(tmp_path):
    from prefrl.text.task import task_from_files

    feast = example("feast_task")
    prompts_file, demos_file = feast.write_files(tmp_path, prompts=20, demonstrations=30)
    task = task_from_files(feast.score, str(prompts_file), str(demos_file))
    assert len(task.prompts) == 20 and len(task.sample_demonstrations(30, seed=0)) == 30
    assert all("shared at" in p for p in task.sample_prompts(5, seed=0))
    assert task.gold("", "The fox and the owl shared bread and honey.") == 1.0  # two foods, two animals
    assert task.gold("", "A cat ate soup.") == 0.5
    assert task.gold("", "bread " * 50) == 0.25 - 0.02 * 10  # listing food past 40 words costs
