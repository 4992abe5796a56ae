from dataclasses import replace

import numpy as np
import torch

from prefrl.core.comparisons import Choice, Comparison, PreferenceDataset
from prefrl.core.reward import RewardEnsemble, longest_refit
from prefrl.core.reward_config import RewardConfig


def linear_task(n_items, n_pairs, seed, T=10, D=6):
    """Items of random features whose true per-step reward is a fixed linear function; labels from true returns."""
    rng = np.random.default_rng(seed)
    w = np.linspace(-1, 1, D)
    items = rng.normal(size=(n_items, T, D)).astype(np.float32)
    mask = np.ones((n_items, T), dtype=np.float32)
    true = (items @ w).sum(1)
    pairs = rng.integers(0, n_items, size=(n_pairs, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    targets = (true[pairs[:, 0]] > true[pairs[:, 1]]).astype(np.float32)
    return items, mask, PreferenceDataset(pairs, targets), w


def test_ensemble_recovers_a_linear_reward_on_held_out_pairs():
    items, mask, data, w = linear_task(400, 600, seed=0)
    ens = RewardEnsemble(items.shape[2], RewardConfig(initial_epochs=60), seed=0)
    report = ens.fit(items, mask, data)
    assert report.train_accuracy > 0.9
    test_items, test_mask, test_data, _ = linear_task(300, 1000, seed=1)
    predicted = ens.member_returns(test_items, test_mask).mean(0)
    a, b = test_data.pairs[:, 0], test_data.pairs[:, 1]
    accuracy = np.mean((predicted[a] > predicted[b]) == (test_data.targets > 0.5))
    assert accuracy >= 0.9


def test_each_member_holds_out_about_one_over_e_of_the_comparisons():
    ens = RewardEnsemble(4, seed=3)
    val = ens.validation_mask(3000)
    assert val.shape == (3, 3000)
    assert np.allclose(val.mean(1), 1 / np.e, atol=0.03)
    assert not np.array_equal(val[0], val[1])  # members hold out different comparisons
    assert np.array_equal(val, RewardEnsemble(4, seed=3).validation_mask(3000))  # stable across refits / resume


def test_l2_grows_when_members_overfit():
    # 12 comparisons of pure noise: training loss falls far below validation loss, so L2 must rise
    rng = np.random.default_rng(0)
    items = rng.normal(size=(24, 10, 8)).astype(np.float32)
    data = PreferenceDataset(np.arange(24).reshape(12, 2), rng.integers(0, 2, 12).astype(np.float32))
    ens = RewardEnsemble(8, RewardConfig(initial_l2=1e-6, initial_epochs=400, lr=3e-3), seed=0)
    ens.fit(items, np.ones((24, 10), np.float32), data)
    assert float(ens.l2.max()) > 1e-6


def test_output_is_each_member_normalised_then_averaged():
    ens = RewardEnsemble(5, seed=0)
    feats = np.random.default_rng(0).normal(size=(5000, 5)).astype(np.float32) * 3 + 2
    ens.update_output_stats(feats)
    raw = ens.member_rewards(feats)
    normed = (raw - ens.out_mean[:, None]) / ens.out_std[:, None]
    assert torch.allclose(normed.mean(1), torch.zeros(3), atol=1e-4)
    assert torch.allclose(normed.std(1, unbiased=False), torch.ones(3), atol=1e-4)
    assert np.allclose(ens.predict(feats), normed.mean(0).numpy(), atol=1e-5)


def test_checkpoint_round_trips_with_weights_only_load(tmp_path):
    items, mask, data, _ = linear_task(50, 80, seed=0)
    ens = RewardEnsemble(6, RewardConfig(initial_epochs=5), seed=0)
    ens.fit(items, mask, data)
    ens.update_output_stats(items.reshape(-1, 6))
    ens.save(tmp_path / "rm.pt")
    torch.load(tmp_path / "rm.pt", weights_only=True)  # no pickle needed
    other = RewardEnsemble(6, seed=99)
    other.load(tmp_path / "rm.pt")
    feats = items.reshape(-1, 6)
    assert np.allclose(other.predict(feats), ens.predict(feats))


def test_incomparable_labels_are_left_out_of_training():
    comps = [
        Comparison(10, 11, Choice.LEFT),
        Comparison(11, 12, Choice.INCOMPARABLE),
        Comparison(12, 10, Choice.EQUAL),
        Comparison(10, 12, Choice.RIGHT),
    ]
    data = PreferenceDataset.from_comparisons(comps, {10: 0, 11: 1, 12: 2})
    assert data.pairs.tolist() == [[0, 1], [2, 0], [0, 2]]
    assert data.targets.tolist() == [1.0, 0.5, 0.0]


def test_kept_level_divides_by_the_std_but_keeps_each_members_mean():
    ens = RewardEnsemble(4, seed=0)
    feats = np.random.default_rng(1).normal(size=(2000, 4)).astype(np.float32)
    ens.update_output_stats(feats)
    raw = ens.member_rewards(feats)
    kept = ens.predict(feats, keep_level=True)
    assert np.allclose(kept, (raw / ens.out_std[:, None]).mean(0).numpy(), atol=1e-5)
    assert np.isclose(kept.mean(), (ens.out_mean / ens.out_std).mean().item(), atol=1e-4)
    assert abs(ens.predict(feats).mean()) < 1e-4  # the paper's default zeroes it


def test_refreshing_input_statistics_leaves_the_learned_function_unchanged():
    """Refits restandardise inputs as behaviour drifts; the reward the agent optimises must not jump when they do."""
    items, mask, data, _ = linear_task(200, 300, seed=0)
    ens = RewardEnsemble(items.shape[2], RewardConfig(initial_epochs=5), seed=0)
    ens.fit(items, mask, data)
    probe = np.random.default_rng(3).normal(size=(50, items.shape[2])).astype(np.float32)
    before = ens.member_rewards(probe).numpy()
    drifted = np.random.default_rng(4).normal(loc=2.0, scale=3.0, size=(500, items.shape[2])).astype(np.float32)
    ens.set_input_stats(drifted)
    assert np.allclose(ens.in_mean.numpy(), drifted.mean(0), atol=1e-5)
    np.testing.assert_allclose(ens.member_rewards(probe).numpy(), before, rtol=1e-4, atol=1e-4)


def test_returns_skip_padding_but_equal_the_masked_sum_of_per_step_rewards():
    """Clips cut short are padded; the packed computation must give what summing every masked step gives."""
    rng = np.random.default_rng(0)
    items = rng.normal(size=(30, 12, 5)).astype(np.float32)
    lengths = rng.integers(1, 13, size=30)
    lengths[:3] = [1, 2, 12]
    mask = (np.arange(12)[None] < lengths[:, None]).astype(np.float32)
    ens = RewardEnsemble(5, RewardConfig(), seed=0)
    rows = torch.as_tensor(rng.integers(0, 30, size=(3, 40)))
    items_t, mask_t = torch.as_tensor(items), torch.as_tensor(mask)
    packed = ens._returns(items_t, mask_t, rows)
    per_step = ens._raw(items_t[rows].reshape(3, -1, 5))
    dense = (per_step.reshape(3, 40, 12) * mask_t[rows]).sum(-1)
    torch.testing.assert_close(packed, dense, rtol=1e-5, atol=1e-5)
    packed.sum().backward()  # and gradients flow through the packing
    assert all(w.grad is not None and torch.isfinite(w.grad).all() for w in ens.net.weights)


def test_a_floored_level_lifts_the_zeroed_reward_until_its_lowest_reference_step_is_0():
    ens = RewardEnsemble(4, seed=0)
    feats = np.random.default_rng(1).normal(size=(2000, 4)).astype(np.float32)
    ens.update_output_stats(feats)
    zeroed, floored = ens.predict(feats), ens.predict(feats, floor=True)
    assert abs(zeroed.mean()) < 1e-4 and zeroed.min() < -0.5  # mean 0: many steps worth less than ending now
    assert abs(floored.min()) < 1e-5 and np.allclose(floored - zeroed, -zeroed.min(), atol=1e-5)  # a constant lift
    assert np.array_equal(ens.predict(feats, keep_level=True, floor=True), ens.predict(feats, keep_level=True))


def test_a_refit_makes_its_passes_up_to_the_cap_and_longest_refit_says_when_the_cap_binds():
    items, mask, data, _ = linear_task(800, 1500, seed=0, T=4)
    data = PreferenceDataset(data.pairs[:1400], data.targets[:1400])
    uncapped = RewardConfig(initial_epochs=1, refit_epochs=2, refit_max_steps=None)
    ens = RewardEnsemble(6, uncapped, seed=1)
    ens.fit(items, mask, data)
    # each member trains on the ~63% it does not hold out: 15 batches of 64 a pass
    assert ens.fit(items, mask, data).steps == longest_refit(uncapped, 1400, seed=1) == 2 * 15
    capped = RewardEnsemble(6, replace(uncapped, refit_max_steps=20), seed=1)
    assert capped.fit(items, mask, data).steps == 15  # the first fit is never capped
    assert capped.fit(items, mask, data).steps == 20


def test_the_default_refit_cap_leaves_every_refit_up_to_700_labels_as_it_was_and_binds_at_1400():
    c = RewardConfig()
    assert all(longest_refit(c, 700, seed) <= c.refit_max_steps for seed in range(10))
    assert all(longest_refit(c, 1400, seed) > c.refit_max_steps for seed in range(10))
