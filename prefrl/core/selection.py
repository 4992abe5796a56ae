"""Which pairs to ask a teacher about."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def random_pairs(n_items: int, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """n_pairs pairs (i, j), i != j, of item rows drawn uniformly. Returns (n_pairs, 2)."""
    if n_items < 2:
        raise ValueError("need at least two items to form a pair")
    a = rng.integers(0, n_items, size=n_pairs)
    b = (a + rng.integers(1, n_items, size=n_pairs)) % n_items  # uniform over the other items
    return np.stack([a, b], axis=1)


def preference_variance(member_returns: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Variance across ensemble members of the predicted P(a > b) for each pair. member_returns: (M, N)."""
    diff = member_returns[:, pairs[:, 0]] - member_returns[:, pairs[:, 1]]
    p = 1.0 / (1.0 + np.exp(-np.clip(diff, -50, 50)))
    return p.var(axis=0)


def disagreement_pairs(
    member_returns: np.ndarray, n_pairs: int, rng: np.random.Generator, candidate_factor: int = 10
) -> np.ndarray:
    """Draw candidate_factor x n_pairs random pairs and keep the n_pairs the ensemble disagrees on most."""
    n_items = member_returns.shape[1]
    return most_uncertain_pairs(
        preference_variance, lambda rows: member_returns[:, rows], n_items, n_pairs, rng, candidate_factor
    )


def preference_entropy(member_returns: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Mean over members of the binary entropy of each member's predicted P(a > b), per pair (nats).

    In float64: in float32 a confident member's 1 - p rounds to 0 and its entropy to NaN, not 0.
    """
    diff = (member_returns[:, pairs[:, 0]] - member_returns[:, pairs[:, 1]]).astype(np.float64)
    p = np.clip(1.0 / (1.0 + np.exp(-np.clip(diff, -50, 50))), 1e-12, 1 - 1e-12)
    return (-(p * np.log(p) + (1 - p) * np.log(1 - p))).mean(axis=0)


def entropy_pairs(
    member_returns: np.ndarray, n_pairs: int, rng: np.random.Generator, candidate_factor: int = 10
) -> np.ndarray:
    """Draw candidate_factor x n_pairs random pairs and keep the n_pairs the members are least sure about."""
    n_items = member_returns.shape[1]
    return most_uncertain_pairs(
        preference_entropy, lambda rows: member_returns[:, rows], n_items, n_pairs, rng, candidate_factor
    )


UNCERTAINTY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "disagreement": preference_variance,
    "entropy": preference_entropy,
}
"""The strategies that rank random candidate pairs by how unsure the ensemble is about them, and their measure."""


def most_uncertain_pairs(
    uncertainty: Callable[[np.ndarray, np.ndarray], np.ndarray],
    returns_of: Callable[[np.ndarray], np.ndarray],
    n_items: int,
    n_pairs: int,
    rng: np.random.Generator,
    candidate_factor: int = 10,
) -> np.ndarray:
    """Draw candidate_factor x n_pairs random pairs of n_items and keep the n_pairs rated most uncertain.

    `returns_of(rows)` gives the members' returns (M, len(rows)) of just those item rows, so only the items the
    drawn pairs use are scored: on a pool of thousands of clips that is most of the cost of choosing.
    """
    candidates = random_pairs(n_items, n_pairs * candidate_factor, rng)
    rows, local = np.unique(candidates, return_inverse=True)
    order = np.argsort(-uncertainty(returns_of(rows), local.reshape(candidates.shape)), kind="stable")
    return candidates[order[:n_pairs]]


def recent_pairs(recent: np.ndarray, n_pairs: int, rng: np.random.Generator) -> np.ndarray:
    """Random pairs among the items marked recent (the policy's latest behaviour); rows index all items."""
    rows = np.flatnonzero(recent)
    if len(rows) < 2:
        raise ValueError("need at least two recent items to form a pair")
    return rows[random_pairs(len(rows), n_pairs, rng)]


def best_rated(member_returns: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k items with the highest mean predicted return over the members (ties keep item order)."""
    return np.argsort(-member_returns.mean(axis=0), kind="stable")[:k]


def top_pairs(member_returns: np.ndarray, n_pairs: int, rng: np.random.Generator, share: float = 0.1) -> np.ndarray:
    """Random pairs among the items the ensemble rates best: the top `share` of them by the members' mean predicted
    return, at least 2 x n_pairs items.

    Labels there resolve the behaviour the policy is climbing towards, where a small error in the reward steers it
    most, and an item the model overrates is soon asked about and put right."""
    n_items = member_returns.shape[1]
    rows = best_rated(member_returns, max(int(share * n_items), 2 * n_pairs))
    return rows[random_pairs(len(rows), n_pairs, rng)]


def upper_disagreement_pairs(
    member_returns: np.ndarray, n_pairs: int, rng: np.random.Generator, candidate_factor: int = 10
) -> np.ndarray:
    """Disagreement among the better-rated half of the items (by the members' mean predicted return, at least
    2 x n_pairs items).

    The worse half is behaviour the policy has left behind or whose low return is plain; the upper half still spans
    the bulk of what the policy does now, and its close calls are the ones that steer it."""
    rows = best_rated(member_returns, max(member_returns.shape[1] // 2, 2 * n_pairs))
    return rows[disagreement_pairs(member_returns[:, rows], n_pairs, rng, candidate_factor)]


RANKED = ("top", "upper-disagreement")
"""The strategies that rank every item by its predicted return, so every item is scored."""

STRATEGIES = ("random", "disagreement", "entropy", "recent", *RANKED)


def select_pairs(
    strategy: str,
    member_returns: np.ndarray,
    n_pairs: int,
    rng: np.random.Generator,
    candidate_factor: int = 10,
    recent: np.ndarray | None = None,
    top_share: float = 0.1,
) -> np.ndarray:
    """Pairs of item rows to query, by the named strategy. `recent` (bool per item) is what 'recent' draws from;
    'top' pairs the best-rated `top_share` of the items; 'upper-disagreement' asks by disagreement within the
    better-rated half."""
    if strategy == "random":
        return random_pairs(member_returns.shape[1], n_pairs, rng)
    if strategy == "disagreement":
        return disagreement_pairs(member_returns, n_pairs, rng, candidate_factor)
    if strategy == "entropy":
        return entropy_pairs(member_returns, n_pairs, rng, candidate_factor)
    if strategy == "recent":
        if recent is None:
            raise ValueError("the 'recent' strategy needs to know which items are recent")
        return recent_pairs(recent, n_pairs, rng)
    if strategy == "top":
        return top_pairs(member_returns, n_pairs, rng, top_share)
    if strategy == "upper-disagreement":
        return upper_disagreement_pairs(member_returns, n_pairs, rng, candidate_factor)
    raise ValueError(f"unknown selection strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
