"""The paper's loop (Christiano et al., 2017, section 2.2), one PPO rollout at a time, in the order of this file:

1. PPO rolls out its policy; every step is cut into clips (`on_env_step`), the random policy's before PPO starts.
2. Labels are asked for on a schedule (`after_rollout`): pairs of recent clips are chosen where the ensemble's
   members disagree most (`choose_pairs`),
3. and the teacher labels them (`label`): a synthetic oracle at once, a person through the label store and
   `prefrl label`.
4. The ensemble is refitted on every label so far (`refit`), in a worker process, and put in use when due.
5. The reward PPO learns from is the ensemble's prediction for each step of the next rollout (`reward_rollout`).

`Trainer` (trainer.py) builds the envs, PPO and this loop, and runs them; the true reward travels beside each step
only for the oracle and evaluation, never into what PPO optimises.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from stable_baselines3.common.buffers import RolloutBuffer

from prefrl.control import person
from prefrl.control import run_folder as rf
from prefrl.control.config import HUMAN, REWARD_LEVELS, TrainConfig, load_teacher, random_segments_needed
from prefrl.control.envs import make_env
from prefrl.control.queries import checked_pairs, query_is_due
from prefrl.control.random_behaviour import initial_actions
from prefrl.control.refit_change import reward_change
from prefrl.control.segments import Segment, SegmentBuffer, SegmentCutter, batch_features, feature_dim
from prefrl.control.stopwatch import Stopwatch
from prefrl.control.wrappers import LearnedRewardVecEnv, RolloutRewardNormalize, add_rollout_rewards
from prefrl.core.background_fit import BackgroundFitter
from prefrl.core.comparisons import PreferenceDataset
from prefrl.core.reward import RewardEnsemble
from prefrl.core.schedule import LabelSchedule
from prefrl.core.selection import RANKED, UNCERTAINTY, most_uncertain_pairs, select_pairs
from prefrl.core.store import LabelStore
from prefrl.core.teachers import Teacher, as_teacher, make_teacher
from prefrl.errors import PrefrlError
from prefrl.media.clips import RenderPool
from prefrl.user_code import is_code_spec, load

BARREN_EPISODES = 20
"""The random policy gives up after this many episodes in a row end with no clip cut from them."""


def no_clips_error(env_id: str, steps: int, longest: int) -> PrefrlError:
    """Episodes cut short by the env itself (not by a fall, not by a time limit) shorter than a clip yield none."""
    return PrefrlError(
        f"no {steps}-step clip fits in {env_id}'s episodes: {BARREN_EPISODES} in a row were cut short after at most "
        f"{longest} steps; pass --segment-length {max(longest, 1)} or less (or a smaller --clip-seconds)"
    )


CHANGE_PROBE_STEPS = 4096
"""About this many of the recent steps (evenly spaced) measure how a refit moved the reward: predicting on all of
them (up to 500 whole clips) twice a refit was a wall-clock cost on long clips, for a diagnostic."""


@dataclass
class _InFlight:
    """A refit running in the worker: what its reward change is measured on, and the rollout that installs it."""

    features: np.ndarray
    before: np.ndarray | None
    install_at: int


class PreferenceLoop:
    """The preference side of one run: clips, the reward PPO sees, labels on schedule, and refits."""

    def __init__(
        self,
        config: TrainConfig,
        out: Path,
        store: LabelStore,
        stopwatch: Stopwatch,
        teacher: object | None = None,
    ) -> None:
        from prefrl.control.envs import env_facts

        self.config = c = config
        self.out = out
        self.store = store
        self.stopwatch = stopwatch
        facts = env_facts(c.env)
        self.dt, self.mujoco = facts.dt, facts.mujoco
        self.in_dim = feature_dim(facts.obs_dim, facts.act_dim, c.sees_transitions)
        self.seg_len: int = c.segment_length  # type: ignore[assignment]  (resolved)
        self.keep_level = REWARD_LEVELS[c.reward_level]
        self.floor = c.reward_level == "auto" and store.get_state("ended_early") == "1"
        """An episode has been seen to end by itself: a level the labels did not fix is floored (`_ended_early`)."""
        self.human = c.teacher == HUMAN
        self.frame_size = c.clip_size if self.human and not self.mujoco else None
        """Human runs on an env without MuJoCo state film every step at this size (its clips cannot be re-rendered)."""
        self.rng = np.random.default_rng(c.seed)
        self._overlap_rng = np.random.default_rng([c.seed, 1])  # its own stream: overlap leaves the pairs alone
        self.schedule = LabelSchedule(c.labels, c.timesteps, c.initial_fraction, c.label_halving)
        self.teacher: Teacher | None = (
            None if self.human
            else as_teacher(teacher) if teacher is not None
            else load_teacher(c.teacher) if is_code_spec(c.teacher)
            else make_teacher(
                c.teacher, seed=c.seed, beta=c.beta, epsilon=c.epsilon, gamma=c.teacher_gamma,
                eps_skip=c.eps_skip, eps_equal=c.eps_equal,
            )
        )  # fmt: skip
        self.ensemble = RewardEnsemble(self.in_dim, c.reward_model, seed=c.seed, device=c.device)
        self.selector = load(c.selection, "--selection") if is_code_spec(c.selection) else None
        """A query-selection strategy of the user's own (after the first fit; the up-front pairs are random)."""
        self.buffer = SegmentBuffer(c.buffer_size)
        self.cutter = SegmentCutter(1, self.seg_len, seconds_per_step=self.dt)
        self.segments: dict[int, Segment] = {}  # labelled items, by store id
        self._stored: dict[int, int] = {}  # id() of a segment object -> its store id, so a segment is stored once
        self.pretrain_steps = 0
        self.rollouts = 0  # PPO rollouts rewarded in this process: refits in flight are installed by this count
        self.fitted_on = -1  # standing labels the model was last fitted on (human runs refit when this changes)
        self.last_refit_change: dict[str, float] | None = None  # how the last refit moved the reward (TensorBoard)
        self.fitter: BackgroundFitter | None = None  # the process that fits the reward model, started at the first fit
        self._in_flight: _InFlight | None = None
        self.render_pool: RenderPool | None = None  # a person's clips, rendered ahead of them
        self.reward_env: LearnedRewardVecEnv | None = None  # set by the trainer: the training env's reward layer
        self.reward_norm: RolloutRewardNormalize | None = None  # and its reward normalisation, if PPO normalises
        if self.human:
            store.set_state("budget", str(c.labels))
            store.set_state("clips_dir", str(Path(c.clips_dir).resolve()))
            store.set_state("run_name", out.resolve().name)
            if c.instruction:
                store.set_state("instruction", c.instruction)

    def extend(self, config: TrainConfig) -> None:
        """Go on under a longer run's (or a larger budget's) settings: the schedule spreads what is left anew."""
        self.config = config
        self.schedule = LabelSchedule(config.labels, config.timesteps, config.initial_fraction, config.label_halving)

    # 1. clips ---------------------------------------------------------------------------------------------------
    def on_env_step(self, obs, actions, true_rewards, dones, infos) -> None:  # type: ignore[no-untyped-def]
        """Every step of PPO's rollouts goes into clips of `seg_len` steps, kept in the recent-clip buffer."""
        with self.stopwatch.time("reward_step"):
            segments = self.cutter.add(obs, actions, true_rewards, dones, infos)
            self.buffer.extend(segments)
            if not self.floor and self.config.reward_level == "auto" and any(s.terminated for s in segments):
                self._ended_early()

    def collect_random_segments(self, n_segments: int) -> None:
        """Roll out the random policy until the buffer holds n_segments (the paper's initial label source)."""
        env = make_env(self.config.env, frame_size=self.frame_size)
        cutter = SegmentCutter(1, self.seg_len, seconds_per_step=self.dt)
        obs, _ = env.reset(seed=self.config.seed + 20_000)
        c = self.config
        actions = initial_actions(c.initial_behaviour, env.action_space, self.dt, self.seg_len, c.seed)  # type: ignore[arg-type]
        collected = barren = steps = longest = cut = 0  # barren: episodes in a row that ended with no clip cut
        while collected < n_segments:  # count what was cut, not the buffer's length: the buffer may be smaller
            action = actions.sample()
            next_obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            info["TimeLimit.truncated"] = truncated and not terminated
            if c.sees_transitions:
                info["next_obs"] = np.asarray(next_obs, dtype=np.float32)
            segments = cutter.add(obs[None], action[None], np.array([reward]), np.array([done]), [info])
            self.buffer.extend(segments)
            if not self.floor and self.config.reward_level == "auto" and any(s.terminated for s in segments):
                self._ended_early()
            collected += len(segments)
            self.pretrain_steps += 1
            steps, cut = steps + 1, cut + len(segments)
            if done:
                barren = 0 if cut else barren + 1
                longest, steps, cut = max(longest, steps), 0, 0
                if barren >= BARREN_EPISODES:
                    env.close()
                    raise no_clips_error(self.config.env, self.seg_len, longest)
            if done:
                actions.restart()
            obs = env.reset()[0] if done else next_obs
        env.close()

    def _ended_early(self) -> None:
        """An episode ended by itself (the agent fell, flipped): from now on, while no label has fixed the reward's
        level, it is floored at 0 over recent steps, so that ending an episode, which no teacher judged, never pays
        more than the worst step seen (the paper's mean 0 makes half the steps worse than dying)."""
        self.floor = True
        self.store.set_state("ended_early", "1")

    # 2-3. labels on schedule: pairs chosen, the teacher answers -------------------------------------------------
    def after_rollout(self, timesteps: int) -> int:
        """Ask for the labels the schedule owes by now (the last rollout: all that are left), and in human runs
        wait for a person who fell behind and refit on what they gave. Returns the labels due by now."""
        asked = self.labels_asked()
        owed = self.schedule.due(timesteps) - asked
        last = timesteps >= self.config.timesteps  # the final model gets the final labels
        if query_is_due(self.config, owed, timesteps):
            self.query(owed, lag=None if last else self.config.refit_lag)
        if self.human:
            if not last:
                person.wait_for_person(self)
            person.refit_if_new_labels(self, last)
        return asked + max(owed, 0)

    def query(self, n: int, lag: int | None = None) -> None:
        """Choose n pairs from recent clips, have the teacher label them, store everything, and refit (the new model
        in use after `lag` more rollouts; None: at once)."""
        with self.stopwatch.time("refit"):
            self.install_refit()  # pairs are chosen by the newest model
            candidates = self.buffer.recent()
            if len(candidates) < 2:
                return
            rows = self.choose_pairs(candidates, n)
            query_ids = self._store_queries(candidates, rows)
            if self.human:  # a person answers through `prefrl label`; render the clips ahead of them
                person.render_ahead(self, candidates, rows)
                return
            self.label(candidates, rows, query_ids)
            self.refit(lag)

    def choose_pairs(self, candidates: list[Segment], n: int) -> np.ndarray:
        """(n, 2) rows of `candidates` to compare: where the ensemble's members disagree most (or by the configured
        strategy); at random before the first fit."""
        fitted = self.ensemble.fits > 0
        if fitted and self.selector is not None:
            returns = self.clip_returns(candidates)
            return checked_pairs(self.selector(candidates, returns, n, self.rng), n, len(candidates), self.config)
        strategy = self.config.selection if fitted else "random"
        if strategy in UNCERTAINTY:  # scores only the clips its candidate pairs use

            def returns_of(rows: np.ndarray) -> np.ndarray:
                return self.clip_returns([candidates[i] for i in rows])

            factor = self.config.candidate_factor
            return most_uncertain_pairs(UNCERTAINTY[strategy], returns_of, len(candidates), n, self.rng, factor)
        if strategy in RANKED:  # these rank every clip
            returns = self.clip_returns(candidates)
            factor, share = self.config.candidate_factor, self.config.top_share
            return select_pairs(strategy, returns, n, self.rng, candidate_factor=factor, top_share=share)
        recent = self.recent_mask(candidates, n)
        return select_pairs(strategy, np.zeros((1, len(candidates))), n, self.rng, recent=recent)

    def clip_returns(self, clips: list[Segment]) -> np.ndarray:
        """Each ensemble member's predicted return of each clip: (members, clips)."""
        return self.ensemble.member_returns(*batch_features(clips, self.seg_len))

    def label(self, candidates: list[Segment], rows: np.ndarray, query_ids: list[int]) -> None:
        """The synthetic teacher answers each query, seeing both clips; every answer is stored at once."""
        assert self.teacher is not None
        self.teacher.observe(np.array([s.true_return for s in candidates]))
        answers = [(q, self.teacher.label(candidates[a], candidates[b])) for q, (a, b) in zip(query_ids, rows)]
        self.store.answer_many(answers, annotator=f"oracle:{self.teacher.name}")

    def _store_queries(self, candidates: list[Segment], rows: np.ndarray) -> list[int]:
        new = [candidates[r] for r in np.unique(rows) if id(candidates[r]) not in self._stored]
        for seg, item_id in zip(new, self.store.add_items("segment", [s.to_bytes() for s in new])):
            self._stored[id(seg)] = item_id
            self.segments[item_id] = seg
        pairs = [(self._stored[id(candidates[a])], self._stored[id(candidates[b])]) for a, b in rows]
        wanted = None
        if self.human and self.config.overlap:  # a share of them goes to a second person too
            wanted = [2 if x < self.config.overlap else 1 for x in self._overlap_rng.random(len(pairs))]
        return self.store.add_queries(pairs, wanted)

    def recent_mask(self, candidates: list[Segment], n: int) -> np.ndarray:
        """Clips of the last `recent_episodes` episodes (at least 2n clips): the policy's current behaviour."""
        mask = np.zeros(len(candidates), dtype=bool)
        episodes: set[int] = set()
        for i in range(len(candidates) - 1, -1, -1):  # newest first
            episodes.add(candidates[i].episode)
            if len(episodes) > self.config.recent_episodes and mask.sum() >= 2 * n:
                break
            mask[i] = True
        return mask

    def labels_asked(self) -> int:
        """Queries that count against the budget (skipped ones only when skips cost budget)."""
        asked = self.store.count_queries()
        return asked if self.config.skip_costs_budget else asked - self.store.count_queries("skipped")

    def labels_given(self) -> int:
        """Synthetic runs: queries asked (a skip spends budget too); human runs: labels that stand."""
        return self.store.count_labels() if self.human else self.store.count_queries()

    # 4. refits --------------------------------------------------------------------------------------------------
    def refit(self, lag: int | None = None) -> None:
        """Fit the reward model on every label so far, in the worker process. The new model is put in use before the
        rollout `lag` rollouts after the next one (0: the next one); None waits for it and puts it in use now."""
        with self.stopwatch.time("refit"):
            self.install_refit()  # one fit at a time, in order
            self.fitted_on = self.store.count_standing()
            items, mask, data = self._labelled_data()
            if len(data) == 0:
                return
            recent = self.buffer.recent(500) or [self.segments[i] for i in sorted(self.segments)]
            r_items, r_mask = batch_features(recent, self.seg_len)
            features = r_items[r_mask.astype(bool)]
            probe = features[:: max(1, len(features) // CHANGE_PROBE_STEPS)]
            before = self.predicted_reward(probe) if self.ensemble.fits > 0 else None
            self._fitter().submit(items, mask, data, features)
            self._in_flight = _InFlight(probe, before, install_at=self.rollouts + (lag or 0))
            if lag is None:
                self.install_refit()

    def restart_model(self) -> None:
        """A new reward model, fitted from fresh weights (the first fit's passes) on every label so far and in use at
        once: the policy reset's model, free of the path its warm-started refits took."""
        self.install_refit()
        if self.fitter is not None:  # the worker's ensemble, Adam's moments and bootstrap draws go with it
            self.fitter.close()
            self.fitter = None
        c = self.config
        self.ensemble = RewardEnsemble(self.in_dim, c.reward_model, seed=c.seed, device=c.device)
        self.refit(lag=None)

    def install_refit(self, due_only: bool = False) -> None:
        """Put the fit in flight into the reward PPO sees, waiting for the worker if it is not done; with `due_only`,
        only once its lag is over (checked when each rollout ends, before it is rewarded, and before evaluations)."""
        job = self._in_flight
        if job is None or (due_only and self.rollouts < job.install_at):
            return
        with self.stopwatch.time("refit"):
            assert self.fitter is not None
            result = self.fitter.result()
            self._in_flight = None
            self.ensemble.load_state(result.state)
            self.stopwatch.add("fit", result.seconds)
            if job.before is not None:
                self.last_refit_change = reward_change(job.before, self.predicted_reward(job.features))
            self.ensemble.save(self.out / rf.REWARD)

    def _labelled_data(self) -> tuple[np.ndarray, np.ndarray, PreferenceDataset]:
        comparisons = self.store.comparisons()
        missing = sorted({i for c in comparisons for i in (c.a, c.b)} - set(self.segments))
        for item_id, payload in self.store.items(missing).items():
            self.segments[item_id] = Segment.from_bytes(payload)
        order = sorted(self.segments)
        row_of = {item_id: row for row, item_id in enumerate(order)}
        items, mask = batch_features([self.segments[i] for i in order], self.seg_len)
        return items, mask, PreferenceDataset.from_comparisons(comparisons, row_of)

    def _fitter(self) -> BackgroundFitter:
        if self.fitter is None:
            c = self.config
            self.fitter = BackgroundFitter(self.in_dim, c.reward_model, c.seed, c.device, c.fit_threads)
            if self.ensemble.fits > 0:  # a resumed run: the worker starts from its checkpoint
                self.fitter.load_state(self.ensemble.state())
        return self.fitter

    # 5. the reward PPO sees -------------------------------------------------------------------------------------
    def predicted_reward(self, features: np.ndarray) -> np.ndarray:
        reward = self.ensemble.predict(features, keep_level=self.keep_level, floor=self.floor)
        if self.config.exploration and self.ensemble.fits:  # optimism where the members disagree, fading out
            done = self.rollouts * self.config.ppo.n_steps / self.config.timesteps
            weight = self.config.exploration * max(0.0, 1.0 - done)
            reward = reward + weight * self.ensemble.spread(features, keep_level=self.keep_level)
        return reward

    def reward_rollout(self, buffer: RolloutBuffer) -> None:
        """The rollout just collected gets its learned reward, predicted in one batch by the model due for it (a
        refit asked for after the last rollout has had PPO's update and this rollout to run in)."""
        self.install_refit(due_only=True)
        with self.stopwatch.time("reward_step"):
            assert self.reward_env is not None, "the trainer sets the training env's reward layer"
            add_rollout_rewards(buffer, self.reward_env, self.reward_norm)
        self.rollouts += 1

    # before PPO starts, and beside it ---------------------------------------------------------------------------
    def start(self) -> None:
        """Before PPO's first step: the up-front labels, asked about the random policy's clips, and the first fit."""
        if self.store.count_queries() == 0:
            self.store.set_state("trainer", "collecting initial labels")
            self._fitter()  # the worker imports torch (~2 s) on the other core while the random policy runs
            self.collect_random_segments(random_segments_needed(self.schedule.initial))
            self.query(self.schedule.initial)
        if self.human:
            person.wait_for_initial_labels(self)

    def accuracy(self, n_pairs: int = 500) -> float:
        """How often the ensemble orders pairs of recent clips as their true returns do (ties left out)."""
        segs = self.buffer.recent(500)
        if len(segs) < 2:
            return float("nan")
        predicted = self.clip_returns(segs).mean(0)
        true = np.array([s.true_return for s in segs])
        rows = np.random.default_rng(0).integers(0, len(segs), size=(n_pairs, 2))
        dt, dp = true[rows[:, 0]] - true[rows[:, 1]], predicted[rows[:, 0]] - predicted[rows[:, 1]]
        decided = dt != 0
        return float(np.mean(np.sign(dt[decided]) == np.sign(dp[decided]))) if decided.any() else float("nan")

    def close(self) -> None:
        """Stop the helper processes: clip renderers and the reward-model worker (a refit in flight is dropped; the
        labels it would have used are in the store, and a resumed run refits on them)."""
        if self.render_pool is not None:
            self.render_pool.close()
            self.render_pool = None
        if self.fitter is not None:
            self.fitter.close()
            self.fitter = None
            self._in_flight = None
