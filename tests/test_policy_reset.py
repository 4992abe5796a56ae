"""--policy-reset: a preference run starts PPO afresh once, at the first rollout from the given step (a fifth of the
run by default), on the reward model it has then; resumed runs are not reset twice, runs made before the default
are not reset on resume, and true-reward runs never are."""

import json

import pytest
import torch
from stable_baselines3 import PPO

from prefrl.cli import main
from prefrl.control import run_folder as rf

TINY = ["--env", "HalfCheetah-v5", "--labels", "8", "--ppo", "n_steps=256", "--ppo", "batch_size=64", "--ppo",
        "n_epochs=1", "--eval-episodes", "1", "--eval-freq", "256", "--seed", "3", "--quiet"]  # fmt: skip


def reset_at(folder):
    return json.loads((folder / rf.PROGRESS).read_text()).get("policy_reset_at")


def weights(folder):
    return torch.cat([p.detach().flatten() for p in PPO.load(folder / rf.POLICY).policy.parameters()])


def returns(folder):
    return [(row["timesteps"], row["true_return_mean"]) for row in rf.read_metrics(folder)]


def test_ppo_starts_afresh_at_the_first_rollout_from_the_step_and_the_run_is_the_same_before_it(tmp_path):
    plain, reset = tmp_path / "plain", tmp_path / "reset"
    assert main(["train", *TINY, "--timesteps", "1024", "--policy-reset", "0", "--out", str(plain)]) == 0
    assert main(["train", *TINY, "--timesteps", "1024", "--policy-reset", "400", "--out", str(reset)]) == 0
    assert reset_at(plain) is None and reset_at(reset) == 512  # rollouts start at 0, 256, 512, 768
    before = [row for row in returns(plain) if row[0] <= 512]
    assert len(before) == 3 and returns(reset)[:3] == before  # evaluated at 512 before the reset's rollout
    assert not torch.equal(weights(plain), weights(reset))


def test_with_a_fresh_model_at_reset_the_reward_model_is_refitted_from_new_weights_at_the_reset(tmp_path):
    plain, fresh = tmp_path / "plain", tmp_path / "fresh"
    args = [*TINY, "--timesteps", "1024", "--policy-reset", "400"]
    assert main(["train", *args, "--out", str(plain)]) == 0
    assert main(["train", *args, "--fresh-model-at-reset", "--out", str(fresh)]) == 0
    assert returns(fresh)[:3] == returns(plain)[:3]  # the same run up to the reset
    fits = [int(torch.load(f / rf.REWARD, weights_only=True)["fits"]) for f in (plain, fresh)]
    assert fits[1] < fits[0]  # its fits counted from the reset's fresh one, not from the up-front one
    assert returns(fresh)[3:] != returns(plain)[3:]


def test_a_soft_reset_keeps_the_given_share_of_the_old_weights_and_draws_the_rest_afresh():
    from prefrl.control.policy_reset import reset_policy

    def params(model):
        return {k: v.clone() for k, v in model.policy.state_dict().items()}

    full, soft = (PPO("MlpPolicy", "Pendulum-v1", n_steps=64, seed=1) for _ in range(2))
    old = params(soft)
    assert all(torch.equal(old[k], v) for k, v in params(full).items())  # the same policy before the reset
    torch.manual_seed(7)
    reset_policy(full)
    torch.manual_seed(7)
    reset_policy(soft, keep=0.25)
    fresh, mixed = params(full), params(soft)
    for key, weight in mixed.items():
        assert torch.allclose(weight, 0.25 * old[key] + 0.75 * fresh[key])
    assert not torch.equal(mixed["mlp_extractor.policy_net.0.weight"], fresh["mlp_extractor.policy_net.0.weight"])


def test_a_run_with_a_soft_reset_is_the_same_run_until_the_reset_and_another_after_it(tmp_path):
    full, soft = tmp_path / "full", tmp_path / "soft"
    args = [*TINY, "--timesteps", "1024", "--policy-reset", "400"]
    assert main(["train", *args, "--out", str(full)]) == 0
    assert main(["train", *args, "--policy-reset-keep", "0.5", "--out", str(soft)]) == 0
    assert reset_at(soft) == reset_at(full) == 512
    assert returns(soft)[:3] == returns(full)[:3]
    assert not torch.equal(weights(soft), weights(full))


def test_by_default_a_preference_run_starts_afresh_at_a_fifth_of_its_steps(tmp_path):
    folder = tmp_path / "run"
    assert main(["train", *TINY, "--timesteps", "1280", "--out", str(folder)]) == 0
    assert rf.read_json(folder / rf.CONFIG)["policy_reset"] == 256
    assert reset_at(folder) == 256


def test_a_run_made_before_the_default_is_not_reset_when_resumed(tmp_path):
    folder = tmp_path / "run"
    assert main(["train", *TINY, "--timesteps", "256", "--policy-reset", "0", "--out", str(folder)]) == 0
    config = rf.read_json(folder / rf.CONFIG)
    rf.write_json(folder / rf.CONFIG, {**config, "version": 2, "policy_reset": None})  # as such a run recorded it
    assert main(["train", "--resume", str(folder), "--timesteps", "1024", "--quiet"]) == 0
    assert reset_at(folder) is None
    assert rf.read_json(folder / rf.CONFIG)["policy_reset"] == 0  # the extended run records "never" in today's terms


def test_a_resumed_run_is_reset_when_it_reaches_the_step_and_never_again(tmp_path):
    folder = tmp_path / "run"
    assert main(["train", *TINY, "--timesteps", "512", "--policy-reset", "400", "--out", str(folder)]) == 0
    assert reset_at(folder) == 0  # the run ended at 512, before the rollout that would start afresh
    assert main(["train", "--resume", str(folder), "--timesteps", "1024", "--quiet"]) == 0
    assert reset_at(folder) == 512
    assert main(["train", "--resume", str(folder), "--timesteps", "1536", "--quiet"]) == 0
    assert reset_at(folder) == 512


def test_a_true_reward_run_is_never_reset(tmp_path):
    folder = tmp_path / "true"
    assert main(["train", *TINY, "--reward", "true", "--timesteps", "768", "--policy-reset", "300",
                 "--out", str(folder)]) == 0  # fmt: skip
    assert reset_at(folder) is None


@pytest.mark.parametrize("flags", [["--policy-reset", "-1"], ["--policy-reset", "512"]])
def test_a_reset_outside_the_run_is_refused_in_one_line(capsys, tmp_path, flags):
    code = main(["train", *TINY, "--timesteps", "512", *flags, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--policy-reset" in err[0] and "before --timesteps (512)" in err[0]


@pytest.mark.parametrize("keep", ["-0.1", "1"])
def test_a_share_kept_outside_zero_to_one_is_refused_in_one_line(capsys, tmp_path, keep):
    code = main(["train", *TINY, "--timesteps", "512", "--policy-reset-keep", keep, "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--policy-reset-keep must be at least 0 and below 1" in err[0]


def test_the_learning_curve_marks_where_ppo_started_afresh(tmp_path):
    import matplotlib.image

    from prefrl.plots import plot_learning_curve

    rows = [{"timesteps": t, "true_return_mean": t / 10, "true_return_std": 1.0, "reward_model_accuracy": 0.8,
             "labels": 10 + t // 64} for t in (0, 256, 512, 768, 1024)]  # fmt: skip
    plot_learning_curve(rows, tmp_path / "plain.png", "a run")
    plot_learning_curve(rows, tmp_path / "reset.png", "a run", reset_at=512)
    plain, reset = (matplotlib.image.imread(tmp_path / f"{name}.png") for name in ("plain", "reset"))
    assert plain.shape == reset.shape and (plain != reset).any(axis=-1).sum() > 100  # a line down both panels
