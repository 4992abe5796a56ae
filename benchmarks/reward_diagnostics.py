"""Diagnostics for a preference run's reward model, used to find where Hopper's preference gap comes from.

  reward-vs-true RUN [--model DIR]   per-step learned vs true reward on rollouts of RUN's policy and of random actions
  fit-first RUN N OUT                fit a fresh ensemble on RUN's first N labels only; save it in OUT (a run folder)
  fit-warm RUN N OUT [--restart-at K] replay the loop's own fits up to N labels: the first fit on the up-front labels,
                                     then a warm-started refit at each label count the schedule asks, on the clips
                                     labelled by then; save it in OUT. The model as the loop had it at N labels (its
                                     output normalisation taken over the latest 500 labelled clips, not the rollout's);
                                     --restart-at: start afresh at the first fit from K labels on, as the loop does
                                     with --fresh-model-at-reset
  frozen RUN STEPS [--model DIR] [--penalty K] [--episodes N]
                                     train PPO from scratch on a frozen reward model (no refits), evaluating every
                                     24,576 steps on the true reward (N episodes); prints return and episode length.
                                     --penalty: the reward is the members' mean minus K x their spread
  policies RUN POLICY_RUN... [--model DIR] [--steps N]
                                     one deterministic episode of each POLICY_RUN's policy, scored by the true reward
                                     and by RUN's learned reward per step (with the spread across members): does the
                                     learned reward rank the behaviours as the true one does? (--steps: only an
                                     episode's first N steps, say where a flip happens)
  terms RUN... [--episodes N]         the env's own reward terms (its numeric info entries) of each RUN's final
                                     deterministic policy, per episode and at the last step, and how many episodes
                                     ended early (the agent fell): where is return lost?
  reacher-distance RUN [OTHER...]    Reacher-v5: RUN's learned reward (and the members' spread) by
                                     fingertip-to-target distance, on stochastic episodes of RUN's and OTHER runs'
                                     policies: where is it flat?
  labels RUN... [--above X]          what a run's labelled pairs held: how many clips and pairs were worth over X
                                     to the oracle (true return), how many answers were "equal", the clips' return
                                     quantiles, how many clips ended by termination (before and after the up-front
                                     labels). Did the teacher ever see the behaviour it was meant to ask for?

Examples (the figures in docs/notes/hopper.md):
  python benchmarks/reward_diagnostics.py frozen benchmarks/work/Hopper-v5/pref-s0 125000
  python benchmarks/reward_diagnostics.py fit-first benchmarks/work/Hopper-v5/pref-s0 175 /tmp/first175
  python benchmarks/reward_diagnostics.py frozen /tmp/first175 125000
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from refit_labels import accuracy  # beside this script
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from prefrl.control import run_folder as rf
from prefrl.control.config import REWARD_LEVELS, TrainConfig
from prefrl.control.envs import make_env
from prefrl.control.queries import query_is_due
from prefrl.control.segments import Segment, batch_features, feature_dim, step_features
from prefrl.control.wrappers import LearnedRewardVecEnv
from prefrl.core.comparisons import PreferenceDataset
from prefrl.core.reward import RewardEnsemble
from prefrl.core.schedule import LabelSchedule
from prefrl.core.store import LabelStore

DISTANCE_EDGES = (0, 0.02, 0.05, 0.08, 0.11, 0.14, 0.17, 0.2, 0.25, 0.3, 0.45)
"""Fingertip-to-target distances (m) that Reacher-v5's learned reward is read by."""


def load(run: Path, model: Path | None) -> tuple[TrainConfig, RewardEnsemble, int]:
    c = TrainConfig.from_dict(rf.read_json(run / rf.CONFIG))
    env = gym.make(c.env)
    dim = feature_dim(env.observation_space.shape[0], env.action_space.shape[0], c.sees_transitions)
    ens = RewardEnsemble(dim, c.reward_model)
    ens.load((model or run) / rf.REWARD)
    return c, ens, dim


def acting(run: Path, env_id: str) -> Callable[[np.ndarray, bool], np.ndarray]:
    """RUN's final policy as a function of one raw observation (normalised as in training) and whether to act
    deterministically, its action clipped to [-1, 1]."""
    norm = VecNormalize(DummyVecEnv([lambda: gym.make(env_id)]), training=False, norm_reward=False)
    rf.load_vecnormalize(norm, run)
    policy = PPO.load(run / rf.POLICY, device="cpu")
    return lambda obs, deterministic: np.clip(
        policy.predict(norm.normalize_obs(obs[None]), deterministic=deterministic)[0][0], -1, 1
    )


def reward_vs_true(run: Path, model: Path | None, steps: int = 5000) -> None:
    c, ens, _ = load(run, model)
    env = gym.make(c.env)
    act = acting(run, c.env)
    for who in ("policy (stochastic)", "random actions"):
        feats, rewards, lengths, ep = [], [], [], 0
        obs, _ = env.reset(seed=1)
        for _ in range(steps):
            if who.startswith("random"):
                action = env.action_space.sample()
            else:
                action = act(obs, False)
            next_obs, r, term, trunc, _ = env.step(action)
            feats.append(step_features(obs, action, next_obs if c.sees_transitions else None))
            obs = next_obs
            rewards.append(r)
            ep += 1
            if term or trunc:
                lengths.append(ep)
                ep = 0
                obs, _ = env.reset()
        true = np.array(rewards)
        learned = ens.predict(np.array(feats, dtype=np.float32), keep_level=True)
        slope, level = np.polyfit(true, learned, 1)
        print(f"{who}: true reward {true.mean():.2f} +- {true.std():.2f} per step, learned {learned.mean():.2f} +- "
              f"{learned.std():.2f}, correlation {np.corrcoef(true, learned)[0, 1]:.3f}, learned = {slope:.3f} true "
              f"{level:+.3f} (level {level / slope:+.2f} in true units), episodes {np.mean(lengths or [steps]):.0f} steps")  # fmt: skip


def fit_first(run: Path, n: int, out: Path) -> None:
    c, _, dim = load(run, None)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / rf.CONFIG, out / rf.CONFIG)
    store = LabelStore(run / rf.STORE, create=False)
    comparisons = store.comparisons()[:n]
    ids = sorted({i for x in comparisons for i in (x.a, x.b)})
    segments = {i: Segment.from_bytes(p) for i, p in store.items(ids).items()}
    length = max(len(s) for s in segments.values())
    items, mask = batch_features([segments[i] for i in ids], length)
    ens = RewardEnsemble(dim, c.reward_model, seed=c.seed)
    report = ens.fit(items, mask, PreferenceDataset.from_comparisons(comparisons, {i: r for r, i in enumerate(ids)}))
    ens.update_output_stats(items[mask.astype(bool)])
    ens.save(out / rf.REWARD)
    print(f"fitted on {len(comparisons)} labels, held-out accuracy {report.val_accuracy:.2f}; saved in {out}")


def asks(c: TrainConfig) -> list[tuple[int, int]]:
    """A synthetic-teacher run's fits, replayed from its schedule as the trainer asks: (timestep, labels by then),
    the up-front labels' at step 0, then one after each ask."""
    schedule = LabelSchedule(c.labels, c.timesteps, c.initial_fraction, c.label_halving)
    out = [(0, schedule.initial)]
    for t in range(c.ppo.n_steps, c.timesteps + c.ppo.n_steps, c.ppo.n_steps):
        owed = schedule.due(t) - out[-1][1]
        if query_is_due(c, owed, t):
            out.append((t, out[-1][1] + owed))
    return out


def fit_warm(run: Path, n: int, out: Path, restart_at: int | None = None) -> None:
    c, _, dim = load(run, None)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(run / rf.CONFIG, out / rf.CONFIG)
    store = LabelStore(run / rf.STORE, create=False)
    comparisons = store.comparisons()
    counts = [k for _, k in asks(c) if k <= n]
    ens = RewardEnsemble(dim, c.reward_model, seed=c.seed)
    segments: dict[int, Segment] = {}
    restarted = False
    for k in counts:
        if restart_at is not None and k >= restart_at and ens.fits and not restarted:
            ens, restarted = RewardEnsemble(dim, c.reward_model, seed=c.seed), True  # as --fresh-model-at-reset
        ids = sorted({i for x in comparisons[:k] for i in (x.a, x.b)})  # the clips labelled so far
        segments |= {i: Segment.from_bytes(p) for i, p in store.items([i for i in ids if i not in segments]).items()}
        items, mask = batch_features([segments[i] for i in ids], c.segment_length or max(map(len, segments.values())))
        report = ens.fit(
            items, mask, PreferenceDataset.from_comparisons(comparisons[:k], {i: r for r, i in enumerate(ids)})
        )
        recent = items[-500:][mask[-500:].astype(bool)]
        ens.update_output_stats(recent)
    ens.save(out / rf.REWARD)
    true = np.array([segments[i].true_return for i in ids])  # the rows of items
    ordered = accuracy(ens, items, mask, true, 0, len(ids))
    print(f"{len(counts)} fits up to {counts[-1]} labels, the last one's held-out accuracy {report.val_accuracy:.2f}, "
          f"random pairs of the labelled clips ordered as their true returns {ordered:.2f}; saved in {out}")  # fmt: skip


def frozen(run: Path, steps: int, model: Path | None, penalty: float = 0.0, episodes: int = 5) -> None:
    c, ens, _ = load(run, model)
    venv = DummyVecEnv([lambda: make_env(c.env)])
    venv.seed(c.seed)
    keep = REWARD_LEVELS[c.reward_level]  # the level the run trained with

    def reward(f: np.ndarray) -> np.ndarray:
        r = ens.predict(f, keep_level=keep)
        return r - penalty * ens.spread(f, keep_level=keep) if penalty else r

    venv = VecNormalize(LearnedRewardVecEnv(venv, reward, transition=c.sees_transitions), gamma=c.ppo.gamma)
    evaluation = VecNormalize(DummyVecEnv([lambda: make_env(c.env)] * 5), training=False, norm_reward=False)
    evaluation.seed(c.seed + 10_000)
    agent = PPO("MlpPolicy", venv, seed=c.seed, verbose=0, **c.ppo.ppo_kwargs())
    shown = []
    for _ in range(steps // 24576):
        agent.learn(24576, reset_num_timesteps=False)
        evaluation.obs_rms = venv.obs_rms.copy()
        r, n = evaluate_policy(
            agent, evaluation, n_eval_episodes=episodes, deterministic=True, return_episode_rewards=True
        )
        shown.append(f"{agent.num_timesteps // 1000}k: {np.mean(r):.2f} (episodes {np.mean(n):.0f} steps)")
        print("  ".join(shown), flush=True)


def policies(run: Path, others: list[Path], model: Path | None, steps: int | None = None) -> None:
    c, ens, _ = load(run, model)
    out_std = ens.out_std.detach().cpu().numpy().reshape(-1, 1)
    for other in others:
        act = acting(other, c.env)
        env = gym.make(c.env)
        obs, _ = env.reset(seed=100)
        feats, rewards = [], []
        while True:
            action = act(obs, True)
            next_obs, r, term, trunc, _ = env.step(action)
            feats.append(step_features(obs, action, next_obs if c.sees_transitions else None))
            obs = next_obs
            rewards.append(r)
            if term or trunc or len(rewards) == steps:
                break
        members = ens.member_rewards(np.array(feats, dtype=np.float32)).cpu().numpy() / out_std  # (M, N), level kept
        print(f"{other}: {len(rewards)} steps, true {np.sum(rewards):,.2f} ({np.mean(rewards):.3f}/step), learned "
              f"{members.mean(0).sum():,.0f} ({members.mean():.2f}/step, spread across members "
              f"{members.std(0).mean():.2f}/step)")  # fmt: skip


def terms(runs: list[Path], episodes: int) -> None:
    """The env's own reward terms (numeric `info` entries) of each run's deterministic policy: summed per episode and
    at the episode's last step, averaged over `episodes` episodes; where a return is lost, on which term, and how
    many episodes ended by termination."""
    for run in runs:
        env_id = TrainConfig.from_dict(rf.read_json(run / rf.CONFIG)).env
        act = acting(run, env_id)
        env = gym.make(env_id)
        sums: dict[str, float] = {}
        last: dict[str, float] = {}
        total, ended = 0.0, 0
        for ep in range(episodes):
            obs, _ = env.reset(seed=100 + ep)
            done = False
            while not done:
                obs, r, term, trunc, info = env.step(act(obs, True))
                done, total, ended = term or trunc, total + r, ended + term
                for k, v in info.items():
                    if np.isscalar(v) and not isinstance(v, bool):
                        sums[k] = sums.get(k, 0.0) + float(v)
                        if done:
                            last[k] = last.get(k, 0.0) + float(v)
        each = ", ".join(f"{k} {v / episodes:.2f} (last step {last[k] / episodes:.3f})" for k, v in sums.items())
        print(f"{run}: return {total / episodes:.2f}, {ended} of {episodes} episodes ended early; per episode: {each}")


def reacher_distance(run: Path, others: list[Path], episodes: int = 60) -> None:
    """Reacher-v5: RUN's learned reward (level kept, mean over members) by fingertip-to-target distance, on
    stochastic episodes of RUN's policy and of each other run's, with the control term's share regressed out."""
    c, ens, _ = load(run, None)
    feats, dist, ctrl = [], [], []
    for who in [run, *others]:
        act = acting(who, "Reacher-v5")
        env = gym.make("Reacher-v5")
        for ep in range(episodes):
            obs, _ = env.reset(seed=ep)
            done = False
            while not done:
                action = act(obs, False)
                dist.append(np.linalg.norm(obs[8:10]))  # the observation's fingertip - target (x, y)
                next_obs, _, term, trunc, info = env.step(action)
                feats.append(step_features(obs, action, next_obs if c.sees_transitions else None))
                obs = next_obs
                done = term or trunc
                ctrl.append(info["reward_ctrl"])
    steps = np.array(feats, dtype=np.float32)
    learned, spread = ens.predict(steps, keep_level=True), ens.spread(steps, keep_level=True)
    d, c = np.array(dist), np.array(ctrl)
    coef = np.linalg.lstsq(np.stack([d, c, np.ones_like(d)], 1), learned, rcond=None)[0]
    print(f"learned = {coef[0]:.2f} x distance + {coef[1]:.2f} x control cost {coef[2]:+.2f} (true: -1 and 1); "
          f"correlation with the true reward {np.corrcoef(learned, c - d)[0, 1]:.2f}")  # fmt: skip
    part = learned - coef[1] * c
    for lo, hi in zip(DISTANCE_EDGES[:-1], DISTANCE_EDGES[1:]):
        m = (d >= lo) & (d < hi)
        if m.sum() > 20:
            print(
                f"  {lo * 100:2.0f}-{hi * 100:2.0f} cm: {m.sum():5d} steps, {part[m].mean():+.3f} +- {part[m].std():.3f}"
                f", members' spread {spread[m].mean():.2f}"
            )


def labels(runs: list[Path], above: float) -> None:
    for run in runs:
        store = LabelStore(run / rf.STORE, create=False)
        pairs = store.comparisons()
        ids = sorted({i for c in pairs for i in (c.a, c.b)})
        segments = {i: Segment.from_bytes(b) for i, b in store.items(ids).items()}
        store.close()
        worth = {i: s.true_return for i, s in segments.items()}
        returns = np.array(list(worth.values()))
        held = np.mean([max(worth[c.a], worth[c.b]) > above for c in pairs])
        equal = sum(c.choice.value == "equal" for c in pairs)
        q = ", ".join(f"{v:.2f}" for v in np.quantile(returns, [0.5, 0.9, 0.99, 1.0]))
        first = {}  # each clip's first labelled pair
        for k, c in enumerate(pairs):
            first.setdefault(c.a, k)
            first.setdefault(c.b, k)
        ended = [i for i in ids if segments[i].terminated]
        config = TrainConfig.from_dict(rf.read_json(run / rf.CONFIG))
        early = LabelSchedule(config.labels, config.timesteps, config.initial_fraction).initial  # up-front labels
        up_front = sum(first[i] < early for i in ids)
        ended_early = sum(first[i] < early for i in ended)
        print(f"{run}: {len(pairs)} labelled pairs of {len(ids)} clips; clips worth over {above:g}: "
              f"{100 * np.mean(returns > above):.1f}%, pairs holding one: {100 * held:.1f}%; answered equal: "
              f"{equal}; clip return median, 90th, 99th percentile, max: {q}; clips ended by termination: "
              f"{ended_early} of the {up_front} in the up-front labels, {len(ended) - ended_early} of the "
              f"{len(ids) - up_front} after")  # fmt: skip


def refit_steps(c: TrainConfig) -> list[int]:
    """Timesteps at which a synthetic-teacher run's reward model changed, replayed from its schedule as the trainer
    asks: `refit_lag` rollouts after each ask, or at the next ask if that comes first; the last ask's at once."""
    steps = [t for t, _ in asks(c)[1:]]
    lag = c.refit_lag * c.ppo.n_steps
    return [min(t + lag, nxt) for t, nxt in zip(steps, steps[1:])] + steps[-1:]


def refits(runs: list[Path], after: int) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for run in runs:
        c = TrainConfig.from_dict(rf.read_json(run / rf.CONFIG))
        scalars: dict[str, dict[int, float]] = {}
        for events in sorted((run / rf.TENSORBOARD).rglob("events*")):
            acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
            acc.Reload()
            for tag in ("train/explained_variance", "train/value_loss"):
                for e in acc.Scalars(tag) if tag in acc.Tags()["scalars"] else []:
                    scalars.setdefault(tag, {})[e.step] = e.value
        steps = np.array(sorted(scalars["train/explained_variance"]))
        ev = np.array([scalars["train/explained_variance"][s] for s in steps])
        vl = np.array([scalars["train/value_loss"][s] for s in steps])
        late = [r for r in refit_steps(c) if r > after]
        near = np.zeros(len(steps), dtype=bool)
        for r in late:
            near |= (steps > r) & (steps <= r + 4 * c.ppo.n_steps)
        rest = (steps > after) & ~near
        print(f"{run}: {len(late)} refits past {after:,} steps; explained variance {ev[near].mean():.4f} right after "
              f"them, {ev[rest].mean():.4f} otherwise; value loss {vl[near].mean():.5f} against {vl[rest].mean():.5f}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("reward-vs-true")
    a.add_argument("run", type=Path)
    a.add_argument("--model", type=Path, help="run folder whose reward_model.pt to use (default: RUN's)")
    b = sub.add_parser("fit-first")
    b.add_argument("run", type=Path)
    b.add_argument("n", type=int)
    b.add_argument("out", type=Path)
    w = sub.add_parser("fit-warm")
    w.add_argument("run", type=Path)
    w.add_argument("n", type=int)
    w.add_argument("out", type=Path)
    w.add_argument("--restart-at", type=int, help="a fresh ensemble from the first fit at or past this many labels")
    f = sub.add_parser("frozen")
    f.add_argument("run", type=Path)
    f.add_argument("steps", type=int)
    f.add_argument("--model", type=Path)
    f.add_argument("--penalty", type=float, default=0.0, help="reward = members' mean - PENALTY x their spread")
    f.add_argument("--episodes", type=int, default=5, help="true-reward episodes per evaluation")
    q = sub.add_parser("policies")
    q.add_argument("run", type=Path)
    q.add_argument("others", type=Path, nargs="+")
    q.add_argument("--model", type=Path)
    q.add_argument("--steps", type=int, help="score only each episode's first STEPS steps")
    lb = sub.add_parser("labels")
    lb.add_argument("runs", type=Path, nargs="+")
    lb.add_argument("--above", type=float, default=1.0, help="a clip's true return that counts as worth seeing")
    t = sub.add_parser("terms")
    t.add_argument("runs", type=Path, nargs="+")
    t.add_argument("--episodes", type=int, default=20)
    rd = sub.add_parser("reacher-distance")
    rd.add_argument("run", type=Path)
    rd.add_argument("others", type=Path, nargs="*", help="runs whose policies' steps to add")
    r = sub.add_parser("refits")
    r.add_argument("runs", type=Path, nargs="+")
    r.add_argument("--after", type=int, default=150_000)
    args = p.parse_args()
    torch.set_num_threads(1)
    if args.cmd == "reward-vs-true":
        reward_vs_true(args.run, args.model)
    elif args.cmd == "fit-first":
        fit_first(args.run, args.n, args.out)
    elif args.cmd == "fit-warm":
        fit_warm(args.run, args.n, args.out, args.restart_at)
    elif args.cmd == "policies":
        policies(args.run, args.others, args.model, args.steps)
    elif args.cmd == "labels":
        labels(args.runs, args.above)
    elif args.cmd == "terms":
        terms(args.runs, args.episodes)
    elif args.cmd == "reacher-distance":
        reacher_distance(args.run, args.others)
    elif args.cmd == "refits":
        refits(args.runs, args.after)
    else:
        frozen(args.run, args.steps, args.model, args.penalty, args.episodes)


if __name__ == "__main__":
    main()
