"""The `prefrl` command line. Every user-fixable problem ends as one line on stderr, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import math
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prefrl.errors import PrefrlError
from prefrl.options import given_options, option_flags
from prefrl.user_code import check_named_again

if TYPE_CHECKING:
    from prefrl.control.config import TrainConfig


def _override(module: str, name: str) -> Callable[[str], tuple[str, Any]]:
    """KEY=VALUE for a settings dataclass, imported only when an override is given (it pulls in torch)."""

    def parse(text: str) -> tuple[str, Any]:
        from prefrl.overrides import override_type

        return override_type(getattr(importlib.import_module(module), name))(text)

    return parse


_ppo_override = _override("prefrl.control.ppo_config", "PPOConfig")
_reward_model_override = _override("prefrl.core.reward", "RewardConfig")


def _train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train PPO from synthetic preferences (or from the true reward, as a baseline)",
        description=(
            "Train a PPO agent on a gymnasium task (MuJoCo, or any env with Box spaces) from pairwise preferences "
            "between short clips of its own behaviour, labelled by a synthetic oracle that reads the hidden true reward, "
            "or by a person. Everything lands in one "
            "run folder: config.json, labels.sqlite, reward_model.pt, policy.pt (weights), policy.zip (an SB3 export), vecnormalize.npz, metrics.csv, "
            "learning_curve.png and TensorBoard logs in tb/."
        ),
        epilog=(
            "examples:\n"
            "  prefrl train --env HalfCheetah-v5 --labels 700 --timesteps 1000000 --seed 0 --out runs/hc700\n"
            "  prefrl train --env HalfCheetah-v5 --reward true --timesteps 1000000 --seed 0 --out runs/hc-true\n"
            "  prefrl train --resume runs/hc700"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from prefrl.control.config import TrainConfig
    from prefrl.options import add_options

    add_options(p, TrainConfig)
    p.add_argument("--members", type=int, help="reward ensemble size (the same as --reward-model members=N)")
    p.add_argument("--out", type=Path, help="run folder (default: runs/<env>-<reward>-<labels>-s<seed>)")
    p.add_argument(
        "--resume",
        type=Path,
        metavar="DIR",
        help="continue the run in DIR with all its labels and settings; only --timesteps and --labels may change: "
        "--timesteps extends the run (evaluations keep their spacing, and the label schedule is recomputed for the new "
        "length, pausing until its curve passes the labels already asked), --labels raises the budget. A finished run "
        "is left as it is",
    )
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="run the settings saved in FILE (a run's config.json, or one written by prefrl bench) in a new --out; "
        "other options may not be given with it, but for --out, --quiet, --device and --env naming its own env",
    )
    p.set_defaults(func=_train, parser=p)


def train_config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig a `prefrl train` command line asks for (not yet validated)."""
    from prefrl.control.config import TrainConfig
    from prefrl.options import values_from

    values = values_from(args, TrainConfig)
    if args.members is not None:
        values["reward_model"]["members"] = args.members
    return TrainConfig(**values)


def prepare_run_folder(out: Path) -> None:
    """Create a new run's folder, refusing one in use by another run, a file, or a place that cannot be written."""
    if out.exists() and not out.is_dir():
        raise PrefrlError(f"--out {out} is a file, not a folder; choose another --out")
    if out.exists() and any(out.iterdir()):
        raise PrefrlError(f"run folder {out} already exists; continue it with --resume {out} or choose a new --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PrefrlError(f"cannot write the run folder {out} ({exc.strerror or exc}); choose another --out") from None


RESUME_RUNTIME = {"resume", "progress", "device", "fit_threads"}
"""Options a resumed run takes as given without comparing: how it runs, not what it runs."""
FIELD_OF = {"members": "reward_model.members"}
"""TrainConfig fields of options that are not fields themselves."""


def _resume_settings(args: argparse.Namespace, given: set[str], saved: TrainConfig, out: Path) -> TrainConfig:
    """The saved config, extended as --timesteps and --labels ask, after refusing any other setting that differs."""
    from prefrl.control import resume
    from prefrl.overrides import refuse_other_settings

    if "env" in given and args.env != saved.env:
        raise PrefrlError(f"{out} trains {saved.env}, not {args.env}: drop --env, or start a new run with --out")
    args.env = saved.env  # the PPO preset the options are applied to is the run's env's
    compared = given - RESUME_RUNTIME - set(resume.MAY_CHANGE)
    asked = train_config_from_args(args).resolved() if compared else saved
    refuse_other_settings(out, saved, asked, option_flags(args.parser, compared, FIELD_OF, args))
    config, changes = resume.continued(
        out, saved, args.timesteps if "timesteps" in given else None, args.labels if "labels" in given else None
    )
    for line in changes:
        print(line, file=sys.stderr)
    return config


CONFIG_RUNTIME = {"config", "out", "progress", "device", "env"}
"""Options `--config` may be given with: where and how the file's run runs, and its env named again."""


def config_from_file(args: argparse.Namespace) -> TrainConfig:
    """The settings of `--config FILE`, refusing other options (the file is the one source of the run's settings)."""
    from prefrl.control.config import TrainConfig
    from prefrl.control.run_folder import read_json

    others = given_options(args.parser, args.tokens) - CONFIG_RUNTIME
    if others:
        flag = "--" + sorted(others)[0].replace("_", "-")
        raise PrefrlError(f"{flag} cannot be given with --config {args.config}; change it in the file instead")
    if not args.config.is_file():
        raise PrefrlError(f"--config {args.config} is not a file; give the path of a run's config.json")
    try:
        config = TrainConfig.from_dict(read_json(args.config))
    except PrefrlError:
        raise
    except (ValueError, TypeError) as exc:
        raise PrefrlError(f"--config {args.config} holds no run settings prefrl can read ({exc})") from None
    env_given = "env" in given_options(args.parser, args.tokens)
    if env_given and args.env != config.env:
        raise PrefrlError(f"--config {args.config} trains {config.env}, not {args.env}: drop --env, or edit the file")
    check_named_again(config.env, args.env if env_given else None, args.config)
    return replace(config, progress=args.progress, device=args.device)


def _train(args: argparse.Namespace) -> int:
    from prefrl.control import resume as rs
    from prefrl.control import run_folder as rf
    from prefrl.control.config import CUSTOM, check_device, read_config, validate
    from prefrl.control.trainer import Trainer

    if args.resume is not None:
        out = args.resume
        if not (out / rf.CONFIG).exists():
            raise PrefrlError(f"{out} is not a prefrl run folder (no {rf.CONFIG}); check the path given to --resume")
        saved = read_config(out)
        given = given_options(args.parser, args.tokens)
        check_named_again(saved.env, args.env if "env" in given else None, out)
        check_named_again(saved.teacher, args.teacher if "teacher" in given else None, out, "--teacher")
        check_named_again(saved.selection, args.selection if "selection" in given else None, out, "--selection")
        if saved.teacher == CUSTOM:
            raise PrefrlError(
                f"{out} was labelled by a teacher object from Python; resume it there: "
                f"prefrl.train(config, {str(out)!r}, resume=True, teacher=...)"
            )
        waiting_for_person = saved.teacher == "human" and (out / rf.STORE).exists()
        if not waiting_for_person and (
            (not (out / rf.CHECKPOINT).exists() and not (out / rf.POLICY).exists()) or not (out / rf.PROGRESS).exists()
        ):
            raise PrefrlError(
                f"{out} has no checkpoint yet (it stopped before the first); start it again with a new --out"
            )
        rf.RunLock(out).release()  # a run another trainer is writing is reported as in use, not judged from outside
        rf.read_metrics(out)  # a damaged record is named before anything is said or done
        config = _resume_settings(args, given, saved, out)
        if config != saved:
            validate(config)
        if (done := rs.finished(out, config)) is not None:
            print(done)
            return 0
        config = replace(config, progress=args.progress, device=args.device)
        check_device(config.device)
        resume = True
    else:
        config = config_from_file(args) if args.config is not None else train_config_from_args(args)
        validate(config)
        tag = f"{config.labels}" if config.reward == "learned" else "true"
        out = args.out or Path("runs") / f"{config.env.replace('/', '_')}-{tag}-s{config.seed}"
        prepare_run_folder(out)
        resume = False
    trainer = Trainer(config, out, resume=resume)
    try:
        row = trainer.run()
    except KeyboardInterrupt:
        if (out / rf.PROGRESS).exists() or config.teacher == "human":
            print(f"\nstopped; every label is saved. Continue with: prefrl train --resume {out}", file=sys.stderr)
        else:  # nothing to resume from: the random policy's clips and the first fit come again
            print(
                f"\nstopped before the first checkpoint; start again with a new --out (or remove {out})",
                file=sys.stderr,
            )
        return 130
    used = int(row["labels"])  # what the final reward model was fitted on: a person may have given fewer
    what = f"{used} {config.teacher} labels" + (f" (of {config.labels} asked for)" if used < config.labels else "")
    what = what if config.reward == "learned" else "the true reward"
    acc = row["reward_model_accuracy"]
    print(
        f"{config.env}, {what}, seed {config.seed}: true return {row['true_return_mean']:.1f} "
        f"± {row['true_return_std']:.1f} after {int(row['timesteps'])} steps"
        + (f", reward-model accuracy {acc:.2f}" if not math.isnan(acc) else "")
        + f", {row['wall_time']:.0f} s"
    )
    print(f"run folder: {out}  (curve: {out / rf.CURVE})")
    return 0


def _run_dir(path: Path) -> Path:
    from prefrl.control import run_folder as rf

    if not (path / rf.CONFIG).exists() or not (path / rf.STORE).exists():
        raise PrefrlError(f"{path} is not a prefrl run folder (it needs {rf.CONFIG} and {rf.STORE}); check the path")
    return path


def _clip_args(p: argparse.ArgumentParser, size: int) -> None:
    p.add_argument("--size", type=int, default=size, help="clip width and height in pixels (default: %(default)s)")
    p.add_argument("--fps", type=float, help="clip frame rate (default: real time, at most 60)")
    p.add_argument("--camera", help="a camera of the model (default: 'track', which follows the agent)")


def _clip_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from prefrl.media.clips import ClipConfig

    return ClipConfig(width=args.size, height=args.size, fps=args.fps, camera=args.camera)


def _label_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "label",
        help="label pairs of a run in a window: clips of a control run, completions of a text run",
        description=(
            "Open a window that shows two clips of a run's agent (a control run), or a prompt and two of its "
            "completions (a `prefrl text` run), side by side and asks which is better. Each label is saved to "
            "RUN/labels.sqlite before the next pair appears. Several windows (annotators) may label one run at "
            "once; each query goes to one of them. Works on running, stopped and finished runs."
        ),
        epilog=(
            "keys: left/A left is better, right/D right is better, up/W equally good, down/S can't tell,\n"
            "      Backspace/U undo, Space pause, -/+ speed, R restart (clips only), Esc/Q quit; a click picks.\n"
            "examples:\n  prefrl train --env Hopper-v5 --teacher human --labels 300 --out runs/me &\n"
            "  prefrl label runs/me --annotator alice\n"
            "  prefrl text train --teacher human --out runs/text-me &\n"
            "  prefrl label runs/text-me --annotator alice"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", type=Path, help="run folder")
    p.add_argument("--annotator", default=os.environ.get("USER") or "person", help="your name (default: %(default)s)")
    p.add_argument("--clip-size", type=int, default=384, help="on-screen size of each clip (default: %(default)s)")
    p.add_argument(
        "--stats",
        action="store_true",
        help="no window: print how the run was labelled (per annotator: labels, median seconds to decide, agreement "
        "with the oracle that reads the hidden true reward; per pair of annotators: Cohen's kappa on the queries both "
        "answered, see prefrl train --overlap) and write them to RUN/label_stats.csv and RUN/label_agreement.csv",
    )
    p.set_defaults(func=_label)


def item_score(payload: bytes) -> float | None:
    """An item's hidden true score: a control clip's true return, a text completion's gold score."""
    import io
    import json

    import numpy as np

    if payload[:2] == b"PK":  # an npz: a clip
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            return float(z["true_rewards"].sum())
    gold = json.loads(payload).get("gold")
    return None if gold is None else float(gold)


def _label_stats(run: Path) -> int:
    from prefrl.core.agreement import label_stats, write_stats
    from prefrl.core.store import LabelStore

    store = LabelStore(run / "labels.sqlite", create=False)
    try:
        stats, pairs = label_stats(store, item_score)
    finally:
        store.close()
    print("annotator  labels  median s  agrees with the oracle")
    for s in stats:
        oracle = f"{s.oracle_agreement:.2f} of {s.oracle_compared}" if s.oracle_compared else "-"
        print(f"{s.annotator:<10} {s.labels:>6}  {s.median_seconds:>8.1f}  {oracle}")
    for p in pairs:
        print(f"{p.annotator} and {p.other}: {p.shared} queries both answered, agreement {p.agreement:.2f}, "
              f"Cohen's kappa {p.kappa:.2f}")  # fmt: skip
    for path in write_stats(run, stats, pairs):
        print(f"written: {path}")
    return 0


def _label(args: argparse.Namespace) -> int:
    from prefrl.ui.window import LabelWindow, WindowConfig

    run = _run_dir(args.run)
    if args.stats:
        return _label_stats(run)
    window = LabelWindow(run, args.annotator, WindowConfig(clip_size=args.clip_size))
    try:
        window.run()
    except KeyboardInterrupt:
        window.close()
    print(f"{window.given} labels from {args.annotator} in this window, saved in {run / 'labels.sqlite'}")
    return 0


def _render_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "render",
        help="render clips of a run's stored segments (mp4 + JSON)",
        description="Render stored segments of a run to <clips>/<run name>/<segment id>.mp4, with a JSON of metadata.",
    )
    p.add_argument("run", type=Path, help="run folder")
    p.add_argument(
        "--segments",
        nargs="+",
        default=["pending"],
        help="segment ids, or 'pending' (those in unanswered queries) or 'all' (default: %(default)s)",
    )
    p.add_argument("--clips", type=Path, help="clips folder (default: the run's, else ./clips)")
    p.add_argument("--workers", type=int, default=2, help="render processes (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="render again even where a clip exists")
    _clip_args(p, 384)
    p.set_defaults(func=_render)


def _render(args: argparse.Namespace) -> int:
    import time

    from prefrl.control import run_folder as rf
    from prefrl.core.store import LabelStore
    from prefrl.media.clips import RenderPool
    from prefrl.media.frames import stored_frames

    run = _run_dir(args.run)
    store = LabelStore(run / rf.STORE, create=False)
    if args.segments == ["all"]:
        ids = store.item_ids("segment")
    elif args.segments == ["pending"]:
        ids = sorted({i for _, a, b in store.pending_queries() for i in (a, b)})
    else:
        try:
            ids = [int(s) for s in args.segments]
        except ValueError:
            raise PrefrlError("--segments takes segment ids, 'pending' or 'all'") from None
    if not ids:
        print("nothing to render (no such segments)")
        return 0
    payloads = {i: store.item(i) for i in ids}
    clips = args.clips or Path(store.get_state("clips_dir") or "clips")
    run_name = store.get_state("run_name") or run.resolve().name
    env_id = rf.read_json(run / rf.CONFIG)["env"]
    start = time.time()
    recorded = stored_frames(next(iter(payloads.values()))) is not None  # filmed as it ran: nothing to re-render
    clip = replace(
        _clip_config(args), steps=rf.read_json(run / rf.CONFIG).get("segment_length")
    )  # hold falls as trained
    pool = RenderPool(env_id, clips, run_name, clip, workers=args.workers, renders=not recorded)
    try:
        paths = pool.render(payloads, force=args.force)
    finally:
        pool.close()
    for path in paths:
        print(path)
    print(f"{len(paths)} clips in {time.time() - start:.1f} s")
    return 0


def _labels_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "labels",
        help="move a run's labels: export them with their clips, or import them into another run",
        description="Labels travel between runs: `export` writes a run's standing labels with the clips they compare "
        "(observations, actions, true rewards, MuJoCo state or recorded frames) as JSONL, or CSV for a .csv path; "
        "`import` adds such a file to another run of the same env, whose next refit learns from them (they count "
        "against its label budget). From Python, prefrl.fit_reward_model(path) fits a reward model on either.",
    )
    what = p.add_subparsers(dest="labels_command", required=True, metavar="export|import")
    e = what.add_parser("export", help="write RUN's labels and their clips to a file")
    e.add_argument("run", type=Path, help="run folder")
    e.add_argument("--out", type=Path, help="file to write: .jsonl or .csv (default: RUN/labels.jsonl)")
    e.set_defaults(func=_labels_export)
    i = what.add_parser("import", help="add a labels file to RUN's store")
    i.add_argument("run", type=Path, help="run folder (of the same env as the labels)")
    i.add_argument("file", type=Path, help="a file written by `prefrl labels export`")
    i.set_defaults(func=_labels_import)


def _labels_export(args: argparse.Namespace) -> int:
    from prefrl.control.labels import export_labels

    run = _run_dir(args.run)
    out = args.out or run / "labels.jsonl"
    print(f"{export_labels(run, out)} labels written to {out}")
    return 0


def _labels_import(args: argparse.Namespace) -> int:
    from prefrl.control.labels import import_labels

    run = _run_dir(args.run)
    print(f"{import_labels(run, args.file)} labels added to {run / 'labels.sqlite'}")
    return 0


def _watch_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "watch",
        help="play a run's current policy in a window, or write it to an mp4 or GIF",
        description="Play episodes of the run's latest policy checkpoint (true return shown) so you can see what "
        "it has learned. With --mp4 or --gif it renders headless to a file instead.",
    )
    p.add_argument("run", type=Path, help="run folder")
    p.add_argument("--mp4", type=Path, help="write the episodes to this mp4 instead of opening a window")
    p.add_argument(
        "--gif", type=Path, help="write them to this looping GIF (plays inline in a README; at most 25 frames/s)"
    )
    p.add_argument("--episodes", type=int, default=1, help="episodes to play (default: %(default)s)")
    p.add_argument("--max-steps", type=int, default=1000, help="steps per episode at most (default: %(default)s)")
    p.add_argument("--stochastic", action="store_true", help="sample actions instead of the deterministic policy")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--env", help="the run's module:EnvClass, for a run of your own env (imported only when named here)")
    _clip_args(p, 480)
    p.set_defaults(func=_watch)


def _watch(args: argparse.Namespace) -> int:
    from prefrl.control.watch import watch

    run = _run_dir(args.run)
    from prefrl.control.config import read_config

    check_named_again(read_config(run).env, args.env, run)
    returns = watch(
        run, args.episodes, args.mp4, not args.stochastic, args.seed, _clip_config(args), args.max_steps, args.gif
    )
    written = [str(p) for p in (args.mp4, args.gif) if p is not None]
    print(
        f"true return per episode: {', '.join(f'{r:.1f}' for r in returns)}"
        + (f"; written to {' and '.join(written)}" if written else "")
    )
    return 0


def _bench_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="headless sweeps: envs x seeds x label budgets x teachers x selection, with true-reward baselines",
        description=(
            "Run a sweep of `prefrl train` cells in parallel local processes, each next to the true-reward PPO "
            "baseline of its env and seed, then write results.csv, summary.md (final return as a ratio to "
            "true-reward PPO, mean ± std over seeds) and figures. Resumable: rerun the same command and finished "
            "cells are skipped, unfinished ones continue from their last checkpoint."
        ),
        epilog=(
            "examples:\n"
            "  prefrl bench --envs HalfCheetah-v5 Hopper-v5 Walker2d-v5 --labels 350 700 1400 --seeds 0 1 2\n"
            "  prefrl bench --envs HalfCheetah-v5 --teachers perfect noisy mistake skip equal myopic\n"
            "  prefrl bench --envs HalfCheetah-v5 --selections random disagreement entropy recent top --minutes 60"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--envs", nargs="+", default=["HalfCheetah-v5"], help="env ids (default: %(default)s)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="(default: %(default)s)")
    p.add_argument("--labels", nargs="+", type=int, default=[700], help="label budgets (default: %(default)s)")
    p.add_argument("--teachers", nargs="+", default=["perfect"], help="teacher presets (default: %(default)s)")
    p.add_argument("--selections", nargs="+", default=["disagreement"], help="strategies (default: %(default)s)")
    p.add_argument(
        "--timesteps",
        nargs="+",
        default=["500000"],
        metavar="STEPS|ENV=STEPS",
        help="steps per run, and ENV=STEPS for envs that need another budget, e.g. 1000000 Reacher-v5=300000; "
        "an ENV=STEPS whose env is not among --envs is left unused, so a sweep's command runs with fewer --envs "
        "(default: %(default)s)",
    )
    p.add_argument("--workers", type=int, default=2, help="runs at once, one core each (default: %(default)s)")
    p.add_argument("--minutes", type=float, default=float("inf"), help="stop resumably after this long")
    p.add_argument("--work", type=Path, default=Path("benchmarks/work"), help="run folders (default: %(default)s)")
    p.add_argument("--results", type=Path, default=Path("benchmarks/work/results"),
                   help="where results.csv, summary.md and the figures go; published sweeps are committed under "
                   "benchmarks/results/<sweep>/ (default: %(default)s)")  # fmt: skip
    p.add_argument(
        "--backend",
        choices=["local", "ray"],
        default="local",
        help="local processes, or Ray tasks (pip install 'prefrl[ray]'; --work on shared storage) (default: %(default)s)",
    )
    p.add_argument("--ray-address", help="Ray cluster to join (default: start a local Ray instance)")
    p.add_argument("--report-only", action="store_true", help="only rebuild the results from existing cells")
    from prefrl.control.config import TrainConfig
    from prefrl.options import add_options

    add_options(p, TrainConfig, only=BENCH_SETTINGS)  # each cell's, as prefrl train takes them
    p.set_defaults(func=_bench)


BENCH_SETTINGS = {
    "eval_episodes", "label_halving", "segment_length", "buffer_size", "policy_reset", "policy_reset_keep",
    "policy_reset_check", "fresh_model_at_reset", "ppo", "reward_model", "reward_input",
}  # fmt: skip
"""Settings of `prefrl train` that a sweep gives every cell (a true-reward cell ignores those it has no use for)."""


def _bench_timesteps(values: list[str], envs: list[str]) -> tuple[int, dict[str, int], list[str]]:
    """`--timesteps 1000000 Reacher-v5=300000` as (the default budget, the envs' own budgets, and the ENV=STEPS
    entries left unused because their env is not among --envs: a published sweep's command with a trimmed --envs
    runs its cells with their own budgets; a misspelt env id is still an error)."""
    from prefrl.control.envs import check_env_id

    default, per_env, unused = None, {}, []
    for value in values:
        env, _, steps = value.rpartition("=")
        try:
            n = int(steps)
        except ValueError:
            raise PrefrlError(f"--timesteps {value}: give a whole number of steps, or ENV=STEPS") from None
        if n <= 0:
            raise PrefrlError(f"--timesteps {value}: steps must be positive")
        if not env:
            if default is not None:
                raise PrefrlError("--timesteps: give one default budget; name other envs' as ENV=STEPS")
            default = n
        elif env not in envs:
            check_env_id(env)
            unused.append(value)
        else:
            per_env[env] = n
    if default is None:
        if set(per_env) != set(envs):
            raise PrefrlError("--timesteps: give a default budget, or ENV=STEPS for every env of --envs")
        default = max(per_env.values())
    return default, per_env, unused


def _bench(args: argparse.Namespace) -> int:
    from prefrl.bench.report import write_report
    from prefrl.bench.sweep import SweepConfig, mismatched_cells, run_local
    from prefrl.control.config import TrainConfig, check_buffer_size, check_segment_length, validate
    from prefrl.control.envs import check_env_id
    from prefrl.core.schedule import LabelSchedule
    from prefrl.core.selection import STRATEGIES
    from prefrl.core.teachers import PRESETS
    from prefrl.options import values_from

    for env in args.envs:
        check_env_id(env)
    for teacher in args.teachers:
        if teacher not in PRESETS:
            raise PrefrlError(f"unknown teacher {teacher!r}; choose from {', '.join(PRESETS)}")
    for selection in args.selections:
        if selection not in STRATEGIES:
            raise PrefrlError(f"unknown selection {selection!r}; choose from {', '.join(STRATEGIES)}")
    timesteps, env_timesteps, unused = _bench_timesteps(args.timesteps, args.envs)
    if unused:
        print(f"prefrl: note: --timesteps {' '.join(unused)}: not among --envs, left unused", file=sys.stderr)
    if min(args.labels) <= 0 or args.workers <= 0:
        raise PrefrlError("--labels and --workers must be positive")
    settings = values_from(args, TrainConfig, only=BENCH_SETTINGS)
    ppo, reward_model = settings.pop("ppo"), settings.pop("reward_model")
    if args.eval_episodes < 1:
        raise PrefrlError(f"--eval-episodes must be at least 1, not {args.eval_episodes}")
    if args.label_halving is not None:
        try:  # the schedule's own check
            LabelSchedule(min(args.labels), min([timesteps, *env_timesteps.values()]), halving=args.label_halving)
        except ValueError as exc:
            raise PrefrlError(f"--label-halving: {exc}") from None
    if args.segment_length is not None:
        check_segment_length(args.segment_length)
    check_buffer_size(args.buffer_size)
    config = SweepConfig(
        envs=args.envs, seeds=args.seeds, labels=args.labels, teachers=args.teachers, selections=args.selections,
        timesteps=timesteps, env_timesteps=env_timesteps, workers=args.workers, minutes=args.minutes, work=args.work,
        results=args.results, settings=settings, ppo=ppo, reward_model=reward_model,
    )  # fmt: skip
    checked = set()
    for cell in config.cells():  # every cell's settings are sound before any process starts
        if (cell.env, cell.baseline) not in checked:
            validate(config.train_config(cell))
            checked.add((cell.env, cell.baseline))
    stale = mismatched_cells(config)
    if stale:
        cell, diffs = stale[0]
        more = f" (and {len(stale) - 1} more cells)" if len(stale) > 1 else ""
        what = f"{cell.folder(config.work)}{more} ran with {'; '.join(diffs)}"
        if not args.report_only:
            raise PrefrlError(
                f"{what}: give this sweep the same settings, a new --work folder, or delete the cell to rerun it"
            )
        print(f"prefrl: warning: {what}; the report mixes settings", file=sys.stderr)
    if not args.report_only:
        if args.backend == "ray":
            from prefrl.bench.ray_backend import run_ray

            status = run_ray(config, args.ray_address)
        else:
            status = run_local(config)
        failed = [c for c, s in status.items() if s.startswith("failed")]
    else:
        failed = []
    command = "prefrl bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "prefrl bench"
    print(write_report(config, args.results, command))
    print(f"results: {args.results}/results.csv, summary.md, curves.png")
    if failed:  # a sweep with a failed cell is not a result: say which, and exit non-zero
        logs = ", ".join(str(c.log(config.work)) for c in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        print(f"prefrl: error: {len(failed)} of {len(status)} cells failed; see {logs}{more}", file=sys.stderr)
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prefrl",
        description="Reinforcement learning from human preferences: PPO learns from a reward model trained on "
        "pairwise preferences between clips of its own behaviour.",
    )
    from prefrl import __version__

    parser.add_argument("--version", action="version", version=f"prefrl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _train_parser(sub)
    _label_parser(sub)
    _labels_parser(sub)
    _render_parser(sub)
    _watch_parser(sub)
    _bench_parser(sub)
    from prefrl.text.cli import add_text_parser

    add_text_parser(sub)
    return parser


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM both stop a run cleanly (it checkpoints first), even when started from a background job,
    which inherits SIGINT ignored."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, stop)


def main(argv: list[str] | None = None) -> int:
    from prefrl.media.clips import choose_gl_backend

    try:
        choose_gl_backend()  # before anything imports mujoco; commands that render report a failure themselves
    except PrefrlError:
        pass
    _stop_on_signals()
    tokens = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(tokens)
    args.tokens = tokens[tokens.index(args.command) + 1 :]  # what the subcommand was given, for given_options
    try:
        code = int(args.func(args))
    except PrefrlError as exc:
        print(f"prefrl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before a command could handle it (say, while importing torch): nothing to save yet
        print("\nprefrl: stopped", file=sys.stderr)
        code = 130
    if code == 130:
        _forget_interrupt()
    return code


def _forget_interrupt() -> None:
    """Let a handled Ctrl-C exit with status 130.

    CPython marks a KeyboardInterrupt that escapes code run by `exec` of a string as unhandled, even when a caller
    catches it, and `python -m prefrl` then ends by SIGINT (status -2) instead of the status it was given. Ctrl-C
    lands inside such an `exec` whenever it interrupts the import of a module that builds dataclasses (torch's lazy
    imports do). Each `exec` of a string clears the mark before it runs.
    """
    exec("None")
