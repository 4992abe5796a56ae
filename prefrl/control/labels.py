"""Labels that travel: a run's comparisons with the clips they compare (features, true rewards and render state)
written to a file, read into another run's label store, or fitted into a reward model in one call.

Formats: JSONL (a line per clip, then a line per label) or CSV (a row per label, each clip's arrays as JSON in its
cells). Both are read as plain data: nothing in them can run code.
"""

from __future__ import annotations

import base64
import csv
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from prefrl.control.segments import Segment, batch_features
from prefrl.core.background_fit import fit_and_normalise
from prefrl.core.comparisons import Choice, PreferenceDataset
from prefrl.core.reward import RewardEnsemble
from prefrl.core.reward_config import RewardConfig
from prefrl.core.store import LabelStore
from prefrl.errors import PrefrlError

ARRAYS = ("obs", "actions", "true_rewards", "qpos", "qvel")
"""A clip's per-step arrays, as lists in the file."""
LABEL_FIELDS = ("choice", "annotator", "created_at")


def _clip_record(segment: Segment) -> dict[str, Any]:
    record: dict[str, Any] = {key: getattr(segment, key).tolist() for key in ARRAYS}
    record.update(episode=segment.episode, start=segment.start, terminated=segment.terminated)
    if segment.next_obs is not None:
        record["next_obs"] = segment.next_obs.tolist()
    if segment.frames.size:
        record["frames"] = base64.b64encode(segment.frames.tobytes()).decode()
    return record


def _clip_from(record: dict[str, Any], where: str) -> Segment:
    try:
        arrays = {key: np.asarray(record[key], dtype=np.float32 if key != "qpos" and key != "qvel" else np.float64)
                  for key in ARRAYS}  # fmt: skip
        frames = np.frombuffer(base64.b64decode(record.get("frames", "")), dtype=np.uint8)
        next_obs = np.asarray(record["next_obs"], dtype=np.float32) if "next_obs" in record else None
        segment = Segment(**arrays, episode=int(record["episode"]), start=int(record["start"]),
                          terminated=bool(record["terminated"]), frames=frames, next_obs=next_obs)  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise PrefrlError(f"{where}: not a clip prefrl can read ({type(exc).__name__}: {exc})") from None
    steps = len(segment.actions)
    if (
        segment.obs.ndim != 2
        or segment.actions.ndim != 2
        or any(len(a) != steps for a in (segment.obs, segment.true_rewards))
        or (segment.next_obs is not None and segment.next_obs.shape != segment.obs.shape)
    ):
        raise PrefrlError(f"{where}: a clip's obs, actions, true_rewards and next_obs must have one row per step")
    return segment


def labelled(store: LabelStore) -> tuple[dict[int, Segment], list[dict[str, Any]]]:
    """The clips a store's standing labels compare, by item id, and those labels (oldest first)."""
    rows = [r for r in store.labels() if r["undone_at"] is None]
    latest = {(r["query_id"], r["annotator"]): r for r in rows}  # each annotator's latest stands, as refits count
    rows = sorted(latest.values(), key=lambda r: r["id"])
    ids = sorted({int(r[k]) for r in rows for k in ("item_a", "item_b")})
    clips = {i: Segment.from_bytes(payload) for i, payload in store.items(ids).items()}
    return clips, rows


def export_labels(run: Path, path: Path) -> int:
    """Write the run's standing labels and their clips to `path` (.csv: CSV, else JSONL); returns the labels."""
    store = LabelStore(run / "labels.sqlite", create=False)
    try:
        clips, rows = labelled(store)
    finally:
        store.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        if path.suffix == ".csv":
            csv.field_size_limit(sys.maxsize)
            columns = [*LABEL_FIELDS, *(f"{side}_{key}" for side in "ab" for key in _clip_record(clips[rows[0]["item_a"]]))] if rows else list(LABEL_FIELDS)  # fmt: skip
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for r in rows:
                row = {key: r[key] for key in LABEL_FIELDS}
                for side, item in (("a", r["item_a"]), ("b", r["item_b"])):
                    row.update({f"{side}_{k}": json.dumps(v) for k, v in _clip_record(clips[int(item)]).items()})
                writer.writerow(row)
        else:
            for item_id, clip in clips.items():
                f.write(json.dumps({"clip": item_id, **_clip_record(clip)}) + "\n")
            for r in rows:
                f.write(json.dumps({"a": r["item_a"], "b": r["item_b"], **{k: r[k] for k in LABEL_FIELDS}}) + "\n")
    tmp.replace(path)
    return len(rows)


def read_labels(path: Path) -> tuple[list[Segment], list[tuple[int, int, Choice, str]]]:
    """The clips and labels of an exported file: clips, and (row a, row b, choice, annotator) into them."""
    if not path.is_file():
        raise PrefrlError(f"{path} is not a file; give a labels file written by `prefrl labels export`")
    clips: list[Segment] = []
    labels: list[tuple[int, int, Choice, str]] = []
    try:
        if path.suffix == ".csv":
            csv.field_size_limit(sys.maxsize)
            with path.open(newline="") as f:
                for n, row in enumerate(csv.DictReader(f), start=2):
                    rows = []
                    for side in "ab":
                        record = {k[2:]: json.loads(v) for k, v in row.items() if k and k.startswith(f"{side}_")}
                        clips.append(_clip_from(record, f"{path} line {n}"))
                        rows.append(len(clips) - 1)
                    labels.append((rows[0], rows[1], _choice(row["choice"], path, n), str(row["annotator"])))
        else:
            row_of: dict[int, int] = {}
            with path.open() as f:
                for n, line in enumerate(f, start=1):
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    if "clip" in record:
                        row_of[int(record["clip"])] = len(clips)
                        clips.append(_clip_from(record, f"{path} line {n}"))
                    else:
                        a, b = row_of[int(record["a"])], row_of[int(record["b"])]
                        labels.append((a, b, _choice(record["choice"], path, n), str(record["annotator"])))
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PrefrlError(f"{path} is not a labels file prefrl can read ({type(exc).__name__}: {exc})") from None
    return clips, labels


def _choice(value: str, path: Path, line: int) -> Choice:
    try:
        return Choice(value)
    except ValueError:
        raise PrefrlError(
            f"{path} line {line}: choice {value!r} is none of {', '.join(c.value for c in Choice)}"
        ) from None


def import_labels(run: Path, path: Path) -> int:
    """Add a labels file's clips and labels to a run's store (annotator 'imported:<who>'); the run's next refit
    learns from them, and they count against its label budget. Returns the labels added."""
    from prefrl.control.config import read_config
    from prefrl.control.envs import env_facts

    config = read_config(run)
    facts = env_facts(config.env)
    clips, labels = read_labels(path)
    for clip in clips:
        if clip.obs.shape[1] != facts.obs_dim or clip.actions.shape[1] != facts.act_dim:
            raise PrefrlError(
                f"{path} holds clips of {clip.obs.shape[1]} observations and {clip.actions.shape[1]} actions a "
                f"step; {run} trains {config.env} ({facts.obs_dim} and {facts.act_dim}): import labels of that env"
            )
        if (clip.next_obs is not None) != config.sees_transitions:
            held = "with" if clip.next_obs is not None else "without"
            raise PrefrlError(
                f"{path} holds clips {held} next observations; {run}'s reward model sees --reward-input "
                f"{config.reward_input}: import labels of a run with the same --reward-input"
            )
    store = LabelStore(run / "labels.sqlite", create=False)
    try:
        ids = store.add_items("segment", [clip.to_bytes() for clip in clips])
        queries = store.add_queries([(ids[a], ids[b]) for a, b, _, _ in labels])
        for who in sorted({who for *_, who in labels}):
            answers = [(q, choice) for q, (_, _, choice, w) in zip(queries, labels) if w == who]
            store.answer_many(answers, annotator=f"imported:{who}")
    finally:
        store.close()
    return len(labels)


def fit_reward_model(
    labels: str | Path, config: RewardConfig | None = None, seed: int = 0, segment_length: int | None = None
) -> RewardEnsemble:
    """A reward ensemble fitted on a run's labels (a run folder, its labels.sqlite) or an exported labels file, as
    a run's first fit would be: every member on its bootstrap resample, inputs standardised, outputs normalised."""
    path = Path(labels)
    if path.is_dir() or path.suffix == ".sqlite":
        store = LabelStore(path / "labels.sqlite" if path.is_dir() else path, create=False)
        try:
            by_id, rows = labelled(store)
        finally:
            store.close()
        order = sorted(by_id)
        clips = [by_id[i] for i in order]
        row_of = {item_id: n for n, item_id in enumerate(order)}
        pairs = [(row_of[int(r["item_a"])], row_of[int(r["item_b"])], Choice(r["choice"])) for r in rows]
    else:
        clips, read = read_labels(path)
        pairs = [(a, b, choice) for a, b, choice, _ in read]
    if not pairs:
        raise PrefrlError(f"{path} holds no labels to fit a reward model on")
    kept = [(a, b, choice.target) for a, b, choice in pairs if choice.target is not None]
    data = PreferenceDataset(np.array([(a, b) for a, b, _ in kept], dtype=np.int64).reshape(-1, 2),
                             np.array([t for *_, t in kept], dtype=np.float32))  # fmt: skip
    length = segment_length or max(len(c) for c in clips)
    items, mask = batch_features(clips, length)
    ensemble = RewardEnsemble(items.shape[-1], config, seed=seed)
    fit_and_normalise(ensemble, items, mask, data, items[mask.astype(bool)])
    return ensemble
