"""Learning curves: a curve says more than a final number."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def plot_learning_curve(rows: list[dict[str, float]], path: Path, title: str, reset_at: int | None = None) -> None:
    """True return (mean +- std over evaluation episodes) against timesteps, and the reward model's accuracy; a
    dotted line where PPO started afresh (`reset_at`), which explains the drop after it."""
    if not rows:
        return
    t = np.array([r["timesteps"] for r in rows])
    mean = np.array([r["true_return_mean"] for r in rows])
    std = np.array([r["true_return_std"] for r in rows])
    acc = np.array([r.get("reward_model_accuracy", np.nan) for r in rows])
    labels = np.array([r.get("labels", np.nan) for r in rows])
    has_model = np.isfinite(acc).any()
    fig, axes = plt.subplots(2 if has_model else 1, 1, figsize=(7, 6 if has_model else 3.8), sharex=True, squeeze=False)
    ax = axes[0, 0]
    ax.plot(t, mean, color="C0", marker="o", ms=3)
    ax.fill_between(t, mean - std, mean + std, color="C0", alpha=0.2)
    ax.set_ylabel("true return (eval)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if has_model:
        ax2 = axes[1, 0]
        ax2.plot(t, acc, color="C1", marker="o", ms=3, label="reward-model accuracy (recent segments)")
        ax2.set_ylim(0, 1.02)
        ax2.set_ylabel("accuracy")
        ax2.grid(alpha=0.3)
        ax3 = ax2.twinx()
        ax3.plot(t, labels, color="C2", ls="--", label="labels")
        ax3.set_ylabel("labels")
        lines = ax2.get_lines() + ax3.get_lines()
        ax2.legend(lines, [line.get_label() for line in lines], loc="lower right", fontsize=8)
    if reset_at:
        for each in axes[:, 0]:
            each.axvline(reset_at, color="0.35", ls=":", lw=1.2)
        ax.annotate("PPO afresh", (reset_at, 1), xycoords=("data", "axes fraction"), xytext=(3, -12),
                    textcoords="offset points", fontsize=8, color="0.35")  # fmt: skip
    axes[-1, 0].set_xlabel("timesteps")
    fig.tight_layout()
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
