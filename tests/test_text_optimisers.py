"""The text policy learns from the same labels by PPO, RLOO or DPO: the same sampling, KL and metrics."""

import math
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch

from prefrl.core.records import read_rows
from prefrl.text.dpo import dpo_loss
from prefrl.text.rloo import leave_one_out
from prefrl.text.trainer import TextTrainer
from tests.test_text_trainer import tiny_config


def test_rloos_baseline_is_the_mean_of_the_other_samples_of_the_same_prompt():
    rewards = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 3.0]])
    # by hand: 1 - (2 + 3) / 2, 2 - (1 + 3) / 2, 3 - (1 + 2) / 2; 0 - 1.5, 0 - 1.5, 3 - 0
    assert torch.equal(leave_one_out(rewards), torch.tensor([[-1.5, 0.0, 1.5], [-1.5, -1.5, 3.0]]))
    x = torch.randn(4, 5, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(leave_one_out(x).sum(1), torch.zeros(4), atol=1e-5)  # a prompt's advantages cancel


def test_dpos_loss_is_the_log_sigmoid_of_the_scaled_difference_of_log_ratios():
    w, lo, ref_w, ref_l = torch.tensor([-3.0]), torch.tensor([-5.0]), torch.tensor([-4.0]), torch.tensor([-4.5])
    by_hand = -math.log(1 / (1 + math.exp(-0.1 * ((-3 + 4) - (-5 + 4.5)))))  # -log sigmoid(0.1 x 1.5)
    assert dpo_loss(w, lo, ref_w, ref_l, beta=0.1).item() == pytest.approx(by_hand)
    assert dpo_loss(lo, w, ref_l, ref_w, 0.1).item() > by_hand  # preferring the other is worse


@pytest.mark.parametrize("optimizer", ["rloo", "dpo"])
def test_each_optimiser_runs_the_cycles_and_writes_the_same_metrics(tmp_path, optimizer):
    out = tmp_path / optimizer
    config = tiny_config(out, optimizer=optimizer, cycles=1, oracle="length")  # lengths differ: few ties
    rows = TextTrainer(config, progress=False).run()
    assert [int(r["cycle"]) for r in rows] == [0] and math.isfinite(rows[0]["gold_after"])
    metrics = read_rows(out / "metrics.csv")
    assert len(metrics) == 2  # its iterations, with the KL, the proxy and the gold score as PPO writes them
    assert all(math.isfinite(m[key]) for m in metrics for key in ("kl", "score", "gold", "entropy", "length"))
    assert (out / "policy" / "config.json").exists() and not (out / "policy" / "value_head.safetensors").exists()
    if optimizer == "dpo":
        assert all(math.isfinite(m["policy_loss"]) and math.isfinite(m["dpo_margin"]) for m in metrics)
