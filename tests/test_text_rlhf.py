"""The text side of the preference loop: sampling, the ranked reward model, Elo, and token-level PPO."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import copy
import itertools
from collections import Counter

import numpy as np
import pytest
import torch

from prefrl.core.comparisons import Choice, Comparison
from prefrl.core.elo import elo_ratings, pairwise_agreement, spearman
from prefrl.core.reward import bradley_terry_loss
from prefrl.text import model as lm
from prefrl.text import reward_model as rm
from prefrl.text import tasks
from prefrl.text.ppo import KLController, TextPPO, TextPPOConfig, gae
from prefrl.text.sampling import Rollout, decode, forward, generate, join


@pytest.fixture(scope="module")
def tiny():
    """A 2-layer, 32-wide GPT with a small BPE vocabulary trained on the generated stories (untrained weights)."""
    docs = tasks.corpus(300, seed=0)
    tokenizer = lm.train_tokenizer(docs, vocab_size=300)
    torch.manual_seed(0)
    model = lm.build_model(lm.ModelConfig(layers=2, width=32, heads=2, context=128), tokenizer)
    return model.eval(), tokenizer


# Elo -------------------------------------------------------------------------------------------------------------
def test_elo_ranks_a_consistent_winner_first_and_treats_equal_as_a_draw():
    wins = [Comparison(a, b, Choice.LEFT) for a, b in itertools.combinations([1, 2, 3, 4], 2)]  # 1 > 2 > 3 > 4
    ratings = elo_ratings(wins)
    assert sorted(ratings, key=ratings.get, reverse=True) == [1, 2, 3, 4]
    assert pairwise_agreement(wins, ratings) == 1.0
    draws = elo_ratings([Comparison(5, 6, Choice.EQUAL)] * 10)
    assert draws[5] == pytest.approx(draws[6])
    assert elo_ratings([Comparison(1, 2, Choice.INCOMPARABLE)]) == {}


def test_spearman_and_agreement_measure_order():
    assert spearman(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 40])) == pytest.approx(1.0)
    assert spearman(np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])) == pytest.approx(-1.0)
    assert np.isnan(spearman(np.array([1, 1]), np.array([1, 2])))
    cmps = [Comparison(1, 2, Choice.LEFT), Comparison(2, 3, Choice.RIGHT)]
    assert pairwise_agreement(cmps, {1: 1.0, 2: 0.0, 3: 2.0}) == 1.0
    assert pairwise_agreement(cmps, {1: 0.0, 2: 1.0, 3: 0.5}) == 0.0


# sampling ----------------------------------------------------------------------------------------------------------
def test_sampled_completions_stop_at_the_end_token_and_log_probs_match_an_unpadded_pass(tiny):
    model, tokenizer = tiny
    prompts = ["Tell a story.\n", "Tell a much longer story about a lantern at the harbor.\n"]
    r = generate(model, tokenizer, prompts, max_new_tokens=12, generator=torch.Generator().manual_seed(1))
    assert r.ids.shape[1] == r.prompt_len + r.completion_mask.shape[1]
    for row, m, ended in zip(r.completion_ids, r.completion_mask, r.ended):
        valid = int(m.sum())
        assert m[:valid].all() and not m[valid:].any()  # valid tokens form a prefix
        assert bool(ended) == (row[valid - 1].item() == tokenizer.eos_token_id)
    logp, entropy, hidden = forward(model, r)
    assert hidden.shape[:2] == logp.shape == entropy.shape == r.completion_mask.shape
    # the left-padded short prompt scores its tokens exactly as it would alone
    real = r.attention_mask[0].bool()
    ids = r.ids[0, real][None]
    n = int(r.completion_mask[0].sum())
    alone = Rollout(ids, torch.ones_like(ids), ids.shape[1] - n, torch.ones(1, n), r.ended[:1])
    logp_alone, _, _ = forward(model, alone)
    assert torch.allclose(logp_alone[0], logp[0, :n], atol=1e-4)
    assert decode(tokenizer, alone) == decode(tokenizer, r)[:1]


def test_rows_that_end_leave_the_batch_without_changing_what_the_others_write(tiny):
    """Greedy decoding of a batch equals decoding each prompt alone, while its rows end at different steps."""
    model, tokenizer = copy.deepcopy(tiny[0]), tiny[1]
    with torch.no_grad():  # large random weights: greedy paths that differ from prompt to prompt
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.5, generator=torch.Generator().manual_seed(p.numel()))
    prompts = [p + "\n" for p in tasks.prompts(6, seed=3)]
    greedy = dict(max_new_tokens=16, temperature=1e-6)
    rows = [set(r) for r in generate(model, tokenizer, prompts, **greedy).completion_ids.tolist()]
    counts = Counter(t for r in rows for t in r)
    token = max((t for t in counts if counts[t] < len(rows)), key=counts.get)  # written by some rows, not all
    with torch.no_grad():  # the end token now wins wherever that token would have: rows end at different steps
        emb = model.get_output_embeddings().weight
        emb[tokenizer.eos_token_id] = 1.5 * emb[token]
    batch = generate(model, tokenizer, prompts, **greedy)
    lengths = batch.completion_mask.sum(1).long().tolist()
    assert batch.ended.any() and len(set(lengths)) > 1
    for i, prompt in enumerate(prompts):
        alone = generate(model, tokenizer, [prompt], **greedy)
        n = int(alone.completion_mask.sum())
        assert lengths[i] == n and bool(batch.ended[i]) == bool(alone.ended[0])
        assert torch.equal(batch.completion_ids[i, :n], alone.completion_ids[0, :n])
        assert (batch.completion_ids[i, n:] == tokenizer.pad_token_id).all()


# reward model ------------------------------------------------------------------------------------------------------
def test_a_ranking_is_one_batch_element_whose_loss_is_the_mean_bradley_terry_loss_of_its_pairs():
    raw = torch.tensor([[2.0], [0.0], [1.0], [-1.0], [0.5], [0.0]])  # group 1: 4 completions, group 2: 2
    g1 = rm.Group(
        1, "p", ["a", "b", "c", "d"], [True] * 4, [(i, j, 1.0) for i, j in itertools.combinations(range(4), 2)]
    )
    g2 = rm.Group(2, "q", ["e", "f"], [True] * 2, [(0, 1, 0.5)])
    losses = rm.group_loss(raw, [g1, g2], random_response=0.1)
    assert losses.shape == (2, 1)
    by_hand = np.mean([
        float(bradley_terry_loss(raw[i, 0], raw[j, 0], torch.tensor(1.0), 0.1))
        for i, j in itertools.combinations(range(4), 2)
    ])  # fmt: skip
    assert float(losses[0, 0]) == pytest.approx(by_hand, rel=1e-5)
    assert float(losses[1, 0]) == pytest.approx(float(bradley_terry_loss(raw[4, 0], raw[5, 0], torch.tensor(0.5), 0.1)))


def _happy_groups(n: int, seed: int) -> list[rm.Group]:
    """Rankings by a hidden rule: more 'happy' words is better."""
    rng = np.random.default_rng(seed)
    groups = []
    for g in range(n):
        counts = rng.permutation(4)
        texts = [" ".join(["happy"] * int(c) + ["the cat sat"] * (4 - int(c))) for c in counts]
        cmps = [(i, j, 1.0 if counts[i] > counts[j] else 0.0) for i, j in itertools.combinations(range(4), 2)]
        groups.append(rm.Group(g, "Tell a story.\n", texts, [True] * 4, cmps))
    return groups


def test_the_reward_model_learns_a_hidden_ranking_rule_and_normalises_to_mean_0_std_1(tiny):
    model, tokenizer = tiny
    config = rm.TextRewardConfig(heads=2, epochs=12, lr=1e-3, groups_per_batch=8, val_fraction=0.25)
    reward = rm.TextRewardModel.from_policy(model, config)
    report = rm.fit(reward, tokenizer, _happy_groups(40, seed=0))
    assert report["rm_comparisons"] == 40 * 6
    assert report["rm_val_accuracy"] >= 0.85
    samples = join(tokenizer, ["Tell a story.\n"] * 8, ["happy " * i + "the cat" for i in range(8)], [True] * 8)
    reward.normalise([samples])
    heads = reward.head_scores(samples)
    assert torch.allclose(heads.mean(0), torch.zeros(2), atol=1e-4)
    assert torch.allclose(heads.std(0, unbiased=False), torch.ones(2), atol=1e-3)
    assert reward.score(samples)[-1] > reward.score(samples)[0]


def test_the_reward_model_saves_without_pickle_and_loads_to_the_same_scores(tiny, tmp_path):
    model, tokenizer = tiny
    reward = rm.TextRewardModel.from_policy(model, rm.TextRewardConfig(heads=2))
    samples = join(tokenizer, ["Tell a story.\n"] * 3, ["a", "b c", "d e f"], [True, False, True])
    reward.normalise([samples])
    reward.save(tmp_path / "rm")
    assert not list(tmp_path.rglob("*.bin")) and not list(tmp_path.rglob("*.pt"))
    again = rm.TextRewardModel.load(tmp_path / "rm")
    assert torch.allclose(again.score(samples), reward.score(samples), atol=1e-5)


# PPO ---------------------------------------------------------------------------------------------------------------
def test_gae_with_gamma_1_matches_a_hand_computation_and_ignores_padding():
    rewards = torch.tensor([[0.0, 0.0, 1.0, 9.0]])
    values = torch.tensor([[0.5, 0.2, 0.1, 7.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])  # last column is padding
    adv = gae(rewards, values, mask, gamma=1.0, lam=0.5)
    d2 = 1.0 - 0.1
    d1 = 0.0 + 0.1 - 0.2
    d0 = 0.0 + 0.2 - 0.5
    assert torch.allclose(adv[0], torch.tensor([d0 + 0.5 * (d1 + 0.5 * d2), d1 + 0.5 * d2, d2, 0.0]))


def test_the_adaptive_kl_controller_raises_beta_above_target_and_lowers_it_below():
    config = TextPPOConfig(kl_coef=0.15, kl_target=6.0, kl_horizon=10_000)
    high, low, fixed = KLController(config), KLController(config), KLController(TextPPOConfig(adaptive_kl=False))
    high.update(kl=20.0, n=1000)
    low.update(kl=1.0, n=1000)
    fixed.update(kl=20.0, n=1000)
    assert high.beta == pytest.approx(0.15 * (1 + 0.2 * 0.1))
    assert low.beta == pytest.approx(0.15 * (1 - 0.2 * 0.1))
    assert fixed.beta == 0.15


def _copy(model):
    import copy

    return copy.deepcopy(model)


def test_the_policy_update_never_depends_on_the_gold_score(tiny):
    """The hidden oracle is only logged: two runs that differ only in the gold function end with identical weights."""
    model, tokenizer = tiny
    prompts = tasks.prompts(8, seed=3)
    config = TextPPOConfig(batch_size=8, minibatch_size=4, epochs=1, max_new_tokens=6, lr=1e-3)
    runs = []
    for gold in (lambda p, t: [0.0] * len(p), lambda p, t: list(np.random.default_rng(9).normal(size=len(p)))):
        torch.manual_seed(0)
        ppo = TextPPO(_copy(model), model, tokenizer, config, seed=0)
        stats = ppo.step(prompts, lambda r: r.completion_mask.sum(1) / 6, gold)
        runs.append(torch.cat([p.detach().flatten() for p in ppo.policy.parameters()]))
        assert {"kl", "score", "score_minus_kl", "entropy", "clip_fraction", "approx_kl", "explained_variance",
                "gold"} <= set(stats)  # fmt: skip
    assert torch.equal(runs[0], runs[1])


class Vowels:
    """A trivially learnable oracle: the share of a completion's characters that are vowels."""

    name = "vowels"

    def score(self, prompt: str, completion: str) -> float:
        return sum(c in "aeiou" for c in completion) / max(1, len(completion))


def test_ppo_raises_the_oracle_score_on_a_trivially_learnable_task_and_starts_at_zero_kl(tiny):
    model, tokenizer = tiny
    oracle = Vowels()

    def gold(prompts, texts):
        return [oracle.score(p, t) for p, t in zip(prompts, texts)]

    prompts = tasks.prompts(32, seed=5)

    def score(r):  # the reward here is the oracle itself: this checks the optimiser, not the reward model
        return 5 * torch.tensor(gold(prompts, decode(tokenizer, r)))

    config = TextPPOConfig(batch_size=32, minibatch_size=16, epochs=4, max_new_tokens=10, lr=3e-3, kl_coef=0.01,
                           no_eos_penalty=0.0)  # fmt: skip
    ppo = TextPPO(_copy(model), model, tokenizer, config, seed=0)
    stats = [ppo.step(prompts, score, gold) for _ in range(15)]
    assert stats[0]["kl"] == pytest.approx(0.0, abs=1e-6)  # the policy starts as a copy of the reference
    assert np.mean([s["gold"] for s in stats[-3:]]) > np.mean([s["gold"] for s in stats[:3]]) + 0.1
    assert stats[-1]["kl"] > 0.0


def test_control_and_text_reward_models_go_through_the_same_ensemble_functions(monkeypatch, tiny):
    """Hold-out split, bootstrap, output normalisation and the Bradley-Terry loss are core's, for both domains;
    what is text's own is only the trunk and reading its last token."""
    import inspect

    from prefrl.core import ensemble
    from prefrl.core import reward as core_reward
    from prefrl.core.comparisons import PreferenceDataset

    callers: dict[str, set[str]] = {}

    def spy_on(module, name):
        original = getattr(module, name)

        def spy(*args, **kwargs):
            callers.setdefault(name, set()).add(inspect.stack()[1].frame.f_globals["__name__"])
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)

    for name in ("held_out", "bootstrap", "output_stats"):
        spy_on(ensemble, name)
    spy_on(core_reward, "bradley_terry_loss")

    control = core_reward.RewardEnsemble(in_dim=2, config=core_reward.RewardConfig(initial_epochs=1))
    items = np.random.default_rng(0).normal(size=(4, 3, 2)).astype(np.float32)
    data = PreferenceDataset(np.array([[0, 1], [2, 3]]), np.array([1.0, 0.0], dtype=np.float32))
    control.fit(items, np.ones((4, 3), dtype=np.float32), data)
    control.update_output_stats(items.reshape(-1, 2))

    model, tokenizer = tiny
    text = rm.TextRewardModel.from_policy(model, rm.TextRewardConfig(heads=2, epochs=1, groups_per_batch=4))
    rm.fit(text, tokenizer, _happy_groups(6, seed=1))
    text.normalise([join(tokenizer, ["Tell a story.\n"] * 4, ["the cat", "a happy cat", "cat", "dog"], [True] * 4)])

    domains = {"prefrl.core.reward", "prefrl.text.reward_model"}
    for name in ("held_out", "bootstrap", "output_stats", "bradley_terry_loss"):
        assert domains <= callers.get(name, set()), (name, callers.get(name))
