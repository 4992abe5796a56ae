"""An ensemble of reward predictors trained on pairwise preferences (Christiano et al., 2017, section 2.2).

Items are fixed-length sequences of feature vectors (padded, with a mask): a MuJoCo segment's (obs, action) steps, or
anything else a domain turns into features. Each member predicts a reward per step; an item's predicted return is
the undiscounted sum over its valid steps, and P(a > b) follows Bradley-Terry with a random-response floor.

Padding stands for the steps after an item ended (an episode that terminated part-way: the agent fell), spent in an
absorbing state worth 0. When all labelled items are full length, a constant added to every step changes no
comparison, so the reward's level is unknown and is normalised away (the paper's mean 0). When some are shorter, the
comparisons fix the level relative to the absorbing state's 0, and it is kept: it is what says whether ending an
episode early costs or pays, and it is the same 0 that PPO assumes after a terminal step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from prefrl.core import ensemble
from prefrl.core.comparisons import PreferenceDataset
from prefrl.core.records import write_atomic
from prefrl.core.reward_config import RewardConfig


def preference_probability(ret_a: torch.Tensor, ret_b: torch.Tensor, random_response: float) -> torch.Tensor:
    """P(a preferred over b) under Bradley-Terry with a random-response probability."""
    return random_response / 2 + (1 - random_response) * torch.sigmoid(ret_a - ret_b)


def bradley_terry_loss(
    ret_a: torch.Tensor, ret_b: torch.Tensor, targets: torch.Tensor, random_response: float
) -> torch.Tensor:
    """Cross-entropy between the target P(a > b) (1, 0.5 or 0) and the modelled one, per pair."""
    p = preference_probability(ret_a, ret_b, random_response)
    return -(targets * torch.log(p) + (1 - targets) * torch.log1p(-p))


class StackedMLP(nn.Module):
    """`members` independent MLPs whose weights are stacked per layer, so one optimizer step and one L2 term serve all."""

    def __init__(self, members: int, in_dim: int, hidden: int, layers: int, generator: torch.Generator) -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * layers + [1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(dims[:-1], dims[1:]):
            bound = 1 / math.sqrt(fan_in)  # nn.Linear's default init, drawn per member
            w = (torch.rand(members, fan_in, fan_out, generator=generator) * 2 - 1) * bound
            b = (torch.rand(members, 1, fan_out, generator=generator) * 2 - 1) * bound
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (M, N, D) per-member inputs, or (N, D) shared by all members. Returns (M, N) rewards.

        One matmul per member and layer: on CPU a short loop of addmm ran 1.5x faster, backward included, than
        batched baddbmm over the members (Hopper-sized refit batches), and refits dominate a run's extra cost.
        """
        last = len(self.weights) - 1
        out = []
        for m in range(len(self.weights[0])):
            h = x if x.dim() == 2 else x[m]
            for i, (w, b) in enumerate(zip(self.weights, self.biases)):
                h = torch.addmm(b[m], h, w[m])
                if i < last:
                    h = F.leaky_relu(h)
            out.append(h.squeeze(-1))
        return torch.stack(out)

    def squared_norms(self) -> torch.Tensor:
        """Sum of squared weights per member, (M,), for the L2 penalty."""
        return sum(w.pow(2).sum(dim=(1, 2)) for w in self.weights)  # type: ignore[return-value]


def longest_refit(config: RewardConfig, comparisons: int, seed: int) -> int:
    """Gradient steps the longest uncapped refit takes on up to this many comparisons with this ensemble seed: a
    `refit_max_steps` at or above it never binds, so runs with and without that cap are the same run."""
    train = np.zeros(config.members, dtype=int)
    longest = 0
    for n in range(1, comparisons + 1):
        train += ~ensemble.held_out(seed, n - 1, config.members, config.val_fraction)
        size = max(int(t) if t else n for t in train)  # a member with nothing to train on trains on all (fit)
        longest = max(longest, size)
    return config.refit_epochs * math.ceil(longest / config.batch_size)


@dataclass
class FitReport:
    """What one fit did, per member where it varies."""

    train_loss: list[float]
    val_loss: list[float]
    l2: list[float]
    train_accuracy: float
    val_accuracy: float
    comparisons: int
    steps: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


class RewardEnsemble:
    """Reward predictors on per-step features, trained from comparisons between padded item sequences."""

    pack_below = 0.9
    """Score only valid steps when fewer than this share of a batch's steps are valid."""
    torch_from = 64
    """predict() runs in torch from this many rows on, in numpy below."""

    def __init__(self, in_dim: int, config: RewardConfig | None = None, seed: int = 0, device: str = "cpu") -> None:
        self.config = config or RewardConfig()
        self.in_dim = in_dim
        self.seed = seed
        self.device = torch.device(device)
        gen = torch.Generator().manual_seed(seed)
        c = self.config
        self.net = StackedMLP(c.members, in_dim, c.hidden, c.layers, gen).to(self.device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=c.lr)
        self.l2 = torch.full((c.members,), c.initial_l2, device=self.device)
        self.in_mean = torch.zeros(in_dim, device=self.device)
        self.in_std = torch.ones(in_dim, device=self.device)
        self.out_mean = torch.zeros(c.members, device=self.device)
        self.out_std = torch.ones(c.members, device=self.device)
        self.fits = 0
        self.level_identified = False
        """Some labelled item was cut short, so the comparisons fixed the reward's level (see the module docstring)."""
        self.out_floor = 0.0
        """The zeroed reward's lowest value over the reference steps (see `predict`'s floor)."""
        self._rng = np.random.default_rng(seed)
        self._snapshot: tuple | None = None  # numpy copy of the weights for predict(); None when stale

    # features -> rewards --------------------------------------------------------------------------------------
    def _raw(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.in_mean) / self.in_std)

    @torch.no_grad()
    def member_rewards(self, features: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Unnormalised per-member reward of each step: features (N, D) -> (M, N)."""
        return self._raw(torch.as_tensor(features, dtype=torch.float32, device=self.device))

    def predict(self, features: np.ndarray, keep_level: bool | None = None, floor: bool = False) -> np.ndarray:
        """The reward the agent sees: each member divided by its std over recent steps, then averaged. (N, D) -> (N,).

        The level: keep_level=True keeps each member's own (relative to the absorbing state's 0), False shifts each
        to mean 0 (the paper's normalisation), None (the default) keeps it exactly when the labelled items fixed it
        (`level_identified`: some of them were cut short by the end of an episode). `floor`, where the level is not
        kept, lifts the zeroed reward until its lowest value over the reference steps is 0 (`out_floor`): what no
        label judged, ending an episode, is then worth no more than the worst step seen.

        It runs on a fused copy of the weights (see `_fuse`): in numpy for a few steps, where three small matmuls
        cost microseconds and torch's dispatch would cost more; in torch for batches (a rollout's worth), where
        numpy's BLAS threads crowd the other core that PPO and the fit worker share.
        """
        if self._snapshot is None:
            self._snapshot = self._fuse()
        layers, out, level_bias, zeroed_bias = self._snapshot
        keep = self.level_identified if keep_level is None else keep_level
        bias = level_bias if keep else zeroed_bias - (np.float32(self.out_floor) if floor else np.float32(0))
        h = np.asarray(features, dtype=np.float32)
        if len(h) >= self.torch_from:
            with torch.no_grad():
                t = torch.from_numpy(np.ascontiguousarray(h))
                for a, c in layers:
                    t = torch.addmm(torch.from_numpy(c), t, torch.from_numpy(a))
                    t = torch.maximum(t, 0.01 * t)
                return (t @ torch.from_numpy(out))[:, 0].numpy() + bias
        for a, c in layers:
            h = h @ a + c
            h = np.maximum(h, 0.01 * h)  # leaky ReLU (slope < 1)
        return (h @ out + bias)[:, 0]

    @torch.no_grad()
    def spread(self, features: np.ndarray, keep_level: bool | None = None) -> np.ndarray:
        """How much the members disagree about each step's reward: the std across members of their normalised
        predictions, levelled as `predict` levels them. (N, D) -> (N,)."""
        raw = self.member_rewards(features)
        keep = self.level_identified if keep_level is None else keep_level
        centred = raw if keep else raw - self.out_mean[:, None]
        return (centred / self.out_std[:, None]).std(0, unbiased=False).cpu().numpy()

    def _fuse(self) -> tuple:
        """All members as one network: inputs standardised inside the first layer, hidden layers side by side (block
        diagonal), and the last layer folded with each member's output normalisation and the ensemble mean."""

        def np_(t: torch.Tensor) -> np.ndarray:
            return t.detach().cpu().numpy().astype(np.float64)

        m = self.config.members
        ws, bs = [np_(w) for w in self.net.weights], [np_(b) for b in self.net.biases]
        mean, std = np_(self.in_mean), np_(self.in_std)
        first = np.concatenate(list(ws[0] / std[None, :, None]), axis=1)  # (D, M*H): W (x - mean) / std
        layers = [(first, np.concatenate(list(bs[0][:, 0] - (mean / std) @ ws[0]), axis=0)[None])]
        for w, b in zip(ws[1:-1], bs[1:-1]):
            block = np.zeros((m * w.shape[1], m * w.shape[2]))
            for i in range(m):
                block[i * w.shape[1] : (i + 1) * w.shape[1], i * w.shape[2] : (i + 1) * w.shape[2]] = w[i]
            layers.append((block, b[:, 0].reshape(1, -1)))
        scale = 1.0 / (m * np_(self.out_std))  # (M,)
        out = (ws[-1][:, :, 0] * scale[:, None]).reshape(-1, 1)  # (M*H, 1)
        level = float((bs[-1][:, 0, 0] * scale).sum())
        zeroed = level - float((np_(self.out_mean) * scale).sum())
        f32 = [(a.astype(np.float32), c.astype(np.float32)) for a, c in layers]
        return f32, out.astype(np.float32), np.float32(level), np.float32(zeroed)

    def _returns(
        self, items: torch.Tensor, mask: torch.Tensor, rows: torch.Tensor, standardised: bool = False
    ) -> torch.Tensor:
        """Per-member predicted returns of item rows: rows (M, K) -> (M, K).

        Only valid steps go through the network: clips cut short by a fall are padded to full length, and on
        Hopper that padding was up to two thirds of the work of a refit. Each member's valid steps are packed to
        the front (members' counts differ by at most a little), scored, and summed back per item. `standardised`:
        the items are already standardised with the input statistics (as `fit` does once, not at every step).
        """
        score = self.net if standardised else self._raw
        m, k = rows.shape
        x = items[rows]  # (M, K, T, D)
        t, d = x.shape[2], x.shape[3]
        w = mask[rows].reshape(m, k * t)
        packed = int(w.sum(1).max())
        if packed > self.pack_below * k * t:  # hardly any padding: the dense pass is cheaper than packing
            return (score(x.reshape(m, k * t, d)) * w).reshape(m, k, t).sum(-1)
        order = torch.argsort(-w, dim=1, stable=True)[:, :packed]  # (M, C): valid positions first
        xs = torch.gather(x.reshape(m, k * t, d), 1, order.unsqueeze(-1).expand(-1, -1, d))
        r = score(xs) * torch.gather(w, 1, order)  # zero the padding a member with fewer valid steps took
        return torch.zeros(m, k, dtype=r.dtype, device=r.device).scatter_add(
            1, torch.div(order, t, rounding_mode="floor"), r
        )

    @torch.no_grad()
    def member_returns(self, items: np.ndarray | torch.Tensor, mask: np.ndarray | torch.Tensor) -> np.ndarray:
        """Unnormalised predicted return of every item for every member: (N, T, D), (N, T) -> (M, N)."""
        items_t = torch.as_tensor(items, dtype=torch.float32, device=self.device)
        mask_t = torch.as_tensor(mask, dtype=torch.float32, device=self.device)
        rows = torch.arange(len(items_t), device=self.device).expand(self.config.members, -1)
        return self._returns(items_t, mask_t, rows).cpu().numpy()

    # normalisation --------------------------------------------------------------------------------------------
    @torch.no_grad()
    def set_input_stats(self, features: np.ndarray) -> None:
        """Standardise inputs with these steps' statistics (refreshed before each fit as behaviour drifts).

        The first layer is rescaled so the function the ensemble computes does not change: a refit then starts
        from the reward the agent was just optimising instead of a distorted one, and a few epochs suffice.
        """
        f = torch.as_tensor(features, dtype=torch.float32, device=self.device)
        mean, std = f.mean(0), f.std(0, unbiased=False).clamp_min(1e-3)
        w, b = self.net.weights[0], self.net.biases[0]  # (M, D, H), (M, 1, H)
        # W'(x - m')/s' + b' == W(x - m)/s + b  for all x
        b += (((mean - self.in_mean) / self.in_std) @ w).unsqueeze(1)
        w *= (std / self.in_std)[None, :, None]
        self.in_mean, self.in_std = mean, std
        self._snapshot = None

    @torch.no_grad()
    def update_output_stats(self, features: np.ndarray) -> None:
        """Normalise each member's output to mean 0, std 1 over these (recent) steps."""
        raw = self.member_rewards(features)
        self.out_mean, self.out_std = ensemble.output_stats(raw)
        self.out_floor = float(((raw - self.out_mean[:, None]) / self.out_std[:, None]).mean(0).min())
        self._snapshot = None

    # training -------------------------------------------------------------------------------------------------
    def validation_mask(self, n: int) -> np.ndarray:
        """(M, n) bool: comparison i is held out from member m. Fixed per (seed, i), so it survives refits/resume."""
        if n == 0:
            return np.zeros((self.config.members, 0), dtype=bool)
        c = self.config
        return np.stack([ensemble.held_out(self.seed, i, c.members, c.val_fraction) for i in range(n)], axis=1)

    def fit(
        self,
        items: np.ndarray,
        mask: np.ndarray,
        data: PreferenceDataset,
        steps: int | None = None,
    ) -> FitReport:
        """Train every member on its own bootstrap resample of its training comparisons, adapting L2 as it goes.

        items: (N, T, D) features, mask: (N, T) 1 for valid steps; data.pairs index rows of items.
        """
        c = self.config
        valid = mask.astype(bool)
        self.level_identified = bool(len(valid)) and bool((~valid).any())
        self.set_input_stats(items[valid])
        # standardised once here, not at every gradient step: the statistics hold still during a fit
        items_t = (torch.as_tensor(items, dtype=torch.float32, device=self.device) - self.in_mean) / self.in_std
        mask_t = torch.as_tensor(mask, dtype=torch.float32, device=self.device)
        pairs = torch.as_tensor(data.pairs, device=self.device)
        targets = torch.as_tensor(data.targets, device=self.device)
        n = len(data)
        val = self.validation_mask(n)
        boots = []
        for m in range(c.members):
            train_idx = np.flatnonzero(~val[m])
            if len(train_idx) == 0:  # too few comparisons to hold any out
                train_idx = np.arange(n)
            boots.append(ensemble.bootstrap(train_idx, self._rng))
        if steps is None:
            epochs = c.initial_epochs if self.fits == 0 else c.refit_epochs
            steps = epochs * math.ceil(max(len(b) for b in boots) / c.batch_size)
            if self.fits > 0 and c.refit_max_steps is not None:
                steps = min(steps, c.refit_max_steps)
        history: list[dict[str, float]] = []
        for step in range(steps):
            idx = np.stack([b[self._rng.integers(0, len(b), size=c.batch_size)] for b in boots])  # (M, B)
            idx_t = torch.as_tensor(idx, device=self.device)
            rows = pairs[idx_t]  # (M, B, 2)
            rets = self._returns(items_t, mask_t, rows.reshape(c.members, -1), True).reshape(c.members, -1, 2)
            loss = bradley_terry_loss(rets[..., 0], rets[..., 1], targets[idx_t], c.random_response).mean(1)
            total = (loss + self.l2 * self.net.squared_norms()).sum()
            self.optimizer.zero_grad(set_to_none=True)
            total.backward()
            self.optimizer.step()
            if (step + 1) % c.l2_check_every == 0 and step < steps - 1:
                history.append(self._adapt_l2(*self._member_losses(items_t, mask_t, pairs, targets, val)[:2]))
        losses = self._member_losses(items_t, mask_t, pairs, targets, val)  # one pass serves L2 and the report
        history.append(self._adapt_l2(*losses[:2]))
        self.fits += 1
        self._snapshot = None  # the weights changed: predict() takes a fresh numpy copy next time
        return self._report(losses, targets, val, steps, history)

    @torch.no_grad()
    def _member_losses(self, items, mask, pairs, targets, val) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
        """Per-member mean loss on its train and val comparisons, and per-member per-comparison correctness."""
        m = self.config.members
        rows, where = torch.unique(pairs, return_inverse=True)  # each item scored once, however often compared
        rets = self._returns(items, mask, rows.expand(m, -1), True)[:, where]  # (M, P, 2); items standardised
        losses = bradley_terry_loss(rets[..., 0], rets[..., 1], targets, self.config.random_response).cpu().numpy()
        decided = (targets != 0.5).cpu().numpy()
        correct = ((rets[..., 0] > rets[..., 1]).cpu().numpy() == (targets > 0.5).cpu().numpy()[None]) & decided[None]
        tr = np.array([losses[i][~val[i]].mean() if (~val[i]).any() else np.nan for i in range(m)])
        va = np.array([losses[i][val[i]].mean() if val[i].any() else np.nan for i in range(m)])
        return tr, va, correct

    def _adapt_l2(self, tr: np.ndarray, va: np.ndarray) -> dict[str, float]:
        """Raise a member's L2 when its validation loss exceeds the band's multiple of its training loss, lower it
        when below."""
        lo, hi = self.config.l2_band
        for i in range(self.config.members):
            if not (np.isfinite(tr[i]) and np.isfinite(va[i])) or tr[i] <= 0:
                continue
            ratio = va[i] / tr[i]
            if ratio > hi:
                self.l2[i] = min(float(self.l2[i]) * 1.5, 10.0)
            elif ratio < lo:
                self.l2[i] = max(float(self.l2[i]) / 1.5, 1e-8)
        return {"train_loss": float(np.nanmean(tr)), "val_loss": float(np.nanmean(va)), "l2": float(self.l2.mean())}

    def _report(self, losses, targets, val, steps, history) -> FitReport:  # type: ignore[no-untyped-def]
        tr, va, correct = losses
        decided = (targets != 0.5).cpu().numpy()[None] & np.ones_like(val)

        def acc(sel: np.ndarray) -> float:
            sel = sel & decided
            return float(correct[sel].mean()) if sel.any() else float("nan")

        return FitReport(
            train_loss=tr.tolist(),
            val_loss=va.tolist(),
            l2=self.l2.cpu().tolist(),
            train_accuracy=acc(~val),
            val_accuracy=acc(val),
            comparisons=len(targets),
            steps=steps,
            history=history,
        )

    # checkpoints ----------------------------------------------------------------------------------------------
    def state(self) -> dict[str, torch.Tensor]:
        """Tensors only, so a checkpoint loads with torch.load(weights_only=True)."""
        s = {f"net.{k}": v.detach().cpu() for k, v in self.net.state_dict().items()}
        s.update(
            l2=self.l2.cpu(),
            in_mean=self.in_mean.cpu(),
            in_std=self.in_std.cpu(),
            out_mean=self.out_mean.cpu(),
            out_std=self.out_std.cpu(),
            fits=torch.tensor(self.fits),
            level_identified=torch.tensor(self.level_identified),
            out_floor=torch.tensor(self.out_floor),
        )
        return s

    def save(self, path: str | Path) -> None:
        state = self.state()
        write_atomic(Path(path), lambda tmp: torch.save(state, tmp))

    def load(self, path: str | Path) -> None:
        self.load_state(torch.load(path, map_location=self.device, weights_only=True))

    def load_state(self, s: dict[str, torch.Tensor]) -> None:
        """Take over the weights and normalisation of `state()` (a checkpoint, or a fit made elsewhere)."""
        self.net.load_state_dict({k[4:]: v for k, v in s.items() if k.startswith("net.")})
        self.l2 = s["l2"].to(self.device).clone()
        self.in_mean, self.in_std = s["in_mean"].to(self.device), s["in_std"].to(self.device)
        self.out_mean, self.out_std = s["out_mean"].to(self.device), s["out_std"].to(self.device)
        self.fits = int(s["fits"])
        self.level_identified = bool(s["level_identified"]) if "level_identified" in s else False
        self.out_floor = float(s["out_floor"]) if "out_floor" in s else 0.0
        self._snapshot = None
