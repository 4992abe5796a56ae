"""A text task of your own: prompts, demonstrations and a hidden gold score, with no change to prefrl.

The task: stories in which a meal is shared. The gold score is `score` below, a plain function of prompt and
completion; the prompts and demonstrations are JSONL files. From the command line:

    python examples/feast_task.py --files runs/feast-data            # writes prompts.jsonl and demos.jsonl
    PYTHONPATH=examples prefrl text train --out runs/feast --oracle feast_task:score \
        --prompts-file runs/feast-data/prompts.jsonl --demos-file runs/feast-data/demos.jsonl

or from Python, `python examples/feast_task.py --files runs/feast-data --out runs/feast` (below). The files here are
generated from prefrl's story world so that the small default model, pretrained on that world, can write them; a
task of your own brings its own.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

FOODS = frozenset(
    "bread soup pie cake apple pear cheese honey tea porridge plum cherry stew biscuit muffin jam milk pudding".split()
)
ANIMALS = frozenset(
    "cat dog fox owl horse rabbit goose duck crow deer bear wolf mouse frog goat lamb pony hedgehog otter badger "
    "squirrel swan heron robin sparrow turtle lizard beetle moth bee donkey cow pig hen parrot raccoon seal whale "
    "dolphin crab toad weasel mole bat lynx falcon hawk magpie salmon trout".split()
)
TARGET_WORDS = 40


def score(prompt: str, completion: str) -> float:
    """A quarter for each distinct food and each distinct animal, up to two of each (at most 1), less 0.02 for each
    word past 40, so that listing food is not a story."""
    words = re.findall(r"[a-z']+", completion.lower())
    seen = set(words)
    shared = (min(len(seen & FOODS), 2) + min(len(seen & ANIMALS), 2)) / 4
    return shared - 0.02 * max(0, len(words) - TARGET_WORDS)


def write_files(folder: Path, prompts: int = 400, demonstrations: int = 800, seed: int = 0) -> tuple[Path, Path]:
    """prompts.jsonl ({"prompt"} a line) and demos.jsonl ({"prompt", "completion"}) for the feast task."""
    from prefrl.text import tasks

    rng = random.Random(seed)
    foods, places = sorted(FOODS), ["the market", "the farm", "the river", "the orchard", "the inn", "the meadow"]

    def prompt() -> str:
        return f"Write a story about a meal {rng.choice(tasks.NAMES)} shared at {rng.choice(places)}, with {rng.choice(foods)}.\n"

    stories = [c for _, c in tasks.demonstrations(demonstrations, seed=seed + 1)]
    folder.mkdir(parents=True, exist_ok=True)
    prompts_file, demos_file = folder / "prompts.jsonl", folder / "demos.jsonl"
    prompts_file.write_text("".join(json.dumps({"prompt": prompt()}) + "\n" for _ in range(prompts)))
    demos_file.write_text("".join(json.dumps({"prompt": prompt(), "completion": c}) + "\n" for c in stories))
    return prompts_file, demos_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=Path, default=Path("runs/feast-data"), help="where the JSONL files go")
    parser.add_argument("--out", type=Path, help="also run the task from Python into this run folder")
    parser.add_argument("--cycles", type=int, default=3)
    args = parser.parse_args()
    prompts_file, demos_file = write_files(args.files)
    print(f"wrote {prompts_file} and {demos_file}")
    if args.out is None:
        return
    from prefrl.text.config import TextTrainConfig
    from prefrl.text.trainer import TextTrainer

    sys.path.insert(0, str(Path(__file__).parent))  # so the run folder can name the oracle feast_task:score
    config = TextTrainConfig(out=str(args.out), oracle="feast_task:score", prompts_file=str(prompts_file),
                             demos_file=str(demos_file), cycles=args.cycles)  # fmt: skip
    for row in TextTrainer(config).run():  # or TextTrainer(config, task=TextTask(score, prompts, demonstrations))
        print(f"cycle {int(row['cycle']) + 1}: gold {row['gold_before']:+.3f} -> {row['gold_after']:+.3f}")


if __name__ == "__main__":
    main()
