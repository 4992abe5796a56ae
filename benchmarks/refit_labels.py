"""Refit a run's reward ensemble offline on the clips and labels in its labels.sqlite, and say how well it orders
random pairs of the run's clips by their true returns. Settings of the reward model can be tried without a new run.

    python benchmarks/refit_labels.py runs/reacher700                     # one fit on all labels
    python benchmarks/refit_labels.py runs/reacher700 --every 25          # refits as the labels arrived, warm-started
    python benchmarks/refit_labels.py runs/reacher700 --set initial_epochs=400 --set refit_epochs=80
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

import numpy as np

from prefrl.control.segments import Segment, batch_features
from prefrl.core.comparisons import Choice, PreferenceDataset
from prefrl.core.reward import RewardEnsemble
from prefrl.core.reward_config import RewardConfig
from prefrl.overrides import override_type


def load(run: Path) -> tuple[list[Segment], np.ndarray, np.ndarray]:
    """The run's clips in the order they were stored, and its labels as (pairs of clip rows, targets)."""
    db = sqlite3.connect(f"file:{run / 'labels.sqlite'}?mode=ro", uri=True)
    ids, segments = [], []
    for item_id, payload in db.execute("SELECT id, payload FROM items ORDER BY id"):
        ids.append(item_id)
        segments.append(Segment.from_bytes(payload))
    row = {item_id: k for k, item_id in enumerate(ids)}
    pairs, targets = [], []
    query = "SELECT item_a, item_b, choice FROM labels WHERE undone_at IS NULL ORDER BY id"
    for a, b, choice in db.execute(query):
        target = Choice(choice).target
        if target is not None:
            pairs.append([row[a], row[b]])
            targets.append(target)
    return segments, np.array(pairs, dtype=np.int64), np.array(targets, dtype=np.float32)


def accuracy(ens: RewardEnsemble, items: np.ndarray, mask: np.ndarray, true: np.ndarray, lo: int, hi: int) -> float:
    """How often the ensemble orders 3,000 random pairs of clips lo..hi as their true returns do (ties left out)."""
    predicted = ens.member_returns(items[lo:hi], mask[lo:hi]).mean(0)
    rows = np.random.default_rng(0).integers(0, hi - lo, size=(3000, 2))
    dt, dp = true[lo:hi][rows[:, 0]] - true[lo:hi][rows[:, 1]], predicted[rows[:, 0]] - predicted[rows[:, 1]]
    decided = dt != 0
    return float(np.mean(np.sign(dt[decided]) == np.sign(dp[decided])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, help="a run folder with labels.sqlite")
    p.add_argument("--set", type=override_type(RewardConfig), action="append", default=[], metavar="KEY=VALUE",
                   help="a reward-model setting, as --reward-model takes it (repeatable)")  # fmt: skip
    p.add_argument("--every", type=int, help="refit after each this many labels, from the up-front quarter on")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    segments, pairs, targets = load(args.run)
    items, mask = batch_features(segments, max(len(s) for s in segments))
    true = np.array([s.true_return for s in segments])
    ens = RewardEnsemble(items.shape[2], RewardConfig(**dict(args.set)), seed=args.seed)
    counts = [len(pairs)] if args.every is None else [*range(len(pairs) // 4, len(pairs), args.every), len(pairs)]
    for n in counts:
        report = ens.fit(items, mask, PreferenceDataset(pairs=pairs[:n], targets=targets[:n]))
        seen = int(pairs[:n].max()) + 1  # the clips stored up to the last one labelled
        print(
            f"{n} labels: train {report.train_accuracy:.2f}, validation {report.val_accuracy:.2f}; random pairs of "
            f"the {min(200, seen)} latest clips {accuracy(ens, items, mask, true, max(0, seen - 200), seen):.2f}, "
            f"of all {seen} {accuracy(ens, items, mask, true, 0, seen):.2f}"
        )


if __name__ == "__main__":
    main()
