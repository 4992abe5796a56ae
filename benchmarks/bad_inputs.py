"""Try bad command lines and damaged run folders as a careless user would, and print what prefrl says to each, as
the Markdown table in docs/run-folders.md. Each case runs the real `prefrl` in a subprocess.

    python benchmarks/bad_inputs.py > /tmp/table.md
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

TINY = ["--env", "HalfCheetah-v5", "--labels", "8", "--timesteps", "512", "--ppo", "n_steps=256", "--ppo",
        "batch_size=64", "--ppo", "n_epochs=1", "--eval-episodes", "1", "--eval-freq", "256", "--quiet"]  # fmt: skip

COMMAND_LINES: list[list[str]] = [
    ["--env", "HalfCheeta-v5"],
    ["--env", "CartPole-v1"],
    ["--env", "CarRacing-v3"],
    ["--env", "Hopper-v3"],
    ["--labels", "0"],
    ["--labels", "2"],
    ["--labels", "1000000", "--timesteps", "4096"],
    ["--timesteps", "100"],
    ["--seed", "-1"],
    ["--members", "0"],
    ["--eval-episodes", "0"],
    ["--clip-seconds", "0"],
    ["--clip-size", "0"],
    ["--ppo", "learning_rate=-1"],
    ["--ppo", "activation=foo"],
    ["--ppo", "n_steps=0"],
    ["--ppo", "batch_size=4096"],
    ["--ppo", "n_epocs=3"],
    ["--reward-model", "lr=0"],
    ["--out", "/dev/null/run"],
    ["--device", "cuda"],
]


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda run: (run / name).write_text(text)


def _config(key: str, value: object) -> Callable[[Path], None]:
    def damage(run: Path) -> None:
        config = json.loads((run / "config.json").read_text())
        config[key] = value
        (run / "config.json").write_text(json.dumps(config))

    return damage


DAMAGE: list[tuple[str, Callable[[Path], None], list[str]]] = [
    ("progress.json truncated", _write("progress.json", '{"timesteps": '), ["--timesteps", "1024"]),
    (
        "progress.json with a word for a count",
        _write("progress.json", '{"timesteps": "many"}'),
        ["--timesteps", "1024"],
    ),
    ("metrics.csv garbage", _write("metrics.csv", "timesteps,labels\nmany,few\n"), ["--timesteps", "1024"]),
    ("config.json truncated", _write("config.json", '{"env": '), []),
    ("config.json with a word for timesteps", _config("timesteps", "many"), []),
    ("policy.pt garbage", _write("policy.pt", "garbage"), ["--timesteps", "1024"]),
    ("vecnormalize.npz garbage", _write("vecnormalize.npz", "garbage"), ["--timesteps", "1024"]),
    ("reward_model.pt garbage", _write("reward_model.pt", "garbage"), ["--timesteps", "1024"]),
    ("resume with another --seed", lambda run: None, ["--seed", "3"]),
    ("resume with fewer --timesteps than done", lambda run: None, ["--timesteps", "256"]),
    ("resume of a finished run", lambda run: None, []),
]


def prefrl(*args: str) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "prefrl", *args], capture_output=True, text=True, timeout=300)
    lines = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    return proc.returncode, lines[-1] if lines else ""


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def main() -> None:
    print("| input | exit | what prefrl says |\n| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for flags in COMMAND_LINES:
            out = ["--out", f"{tmp}/new"] if "--out" not in flags else []
            code, said = prefrl("train", *flags, *out)
            print(f"| `prefrl train {' '.join(flags)}` | {code} | {cell(said)} |")
        finished = Path(tmp) / "finished"
        code, said = prefrl("train", *TINY, "--out", str(finished))
        assert code == 0, said
        for what, damage, flags in DAMAGE:
            run = Path(tmp) / "damaged"
            shutil.rmtree(run, ignore_errors=True)
            shutil.copytree(finished, run)
            damage(run)
            code, said = prefrl("train", "--resume", str(run), *flags, "--quiet")
            print(f"| {what} (`--resume RUN {' '.join(flags)}`) | {code} | {cell(said.replace(str(run), 'RUN'))} |")


if __name__ == "__main__":
    main()
