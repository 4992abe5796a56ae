"""How people labelled a run: per annotator, how many labels and how fast; between annotators, how often they agree
on the queries both answered (Cohen's kappa); and, where items carry a hidden true score, how often each agrees with
the oracle that reads it.
"""

from __future__ import annotations

import csv
import itertools
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from prefrl.core.store import LabelStore

DECIDED = ("left", "right")
"""Answers that say which item is better; 'equal' and "can't tell" are left out of agreement with the oracle."""


def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Agreement of two raters on the same items beyond what their answer frequencies give by chance (nan if
    chance agreement is total)."""
    n = len(a)
    if n == 0:
        return float("nan")
    observed = sum(x == y for x, y in zip(a, b)) / n
    categories = set(a) | set(b)
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in categories)
    return float("nan") if expected == 1 else (observed - expected) / (1 - expected)


@dataclass
class AnnotatorStats:
    annotator: str
    labels: int
    """Labels that stand (undone ones left out)."""
    median_seconds: float
    """Median time from the pair going on this person's screen to their answer."""
    oracle_agreement: float
    """Share of their left/right answers on which the hidden true score prefers the same item."""
    oracle_compared: int


@dataclass
class PairAgreement:
    annotator: str
    other: str
    shared: int
    """Queries both answered (overlap queries)."""
    agreement: float
    kappa: float


def label_stats(
    store: LabelStore, score: Callable[[bytes], float | None]
) -> tuple[list[AnnotatorStats], list[PairAgreement]]:
    """Per-annotator figures and pairwise agreement from a store; `score` reads an item's hidden true score (None
    where it has none)."""
    standing = [r for r in store.labels() if r["undone_at"] is None]
    latest: dict[tuple[int, str], dict] = {}
    for r in standing:  # each annotator's latest answer on each query
        latest[(int(r["query_id"]), str(r["annotator"]))] = r
    items = store.items(sorted({int(r[k]) for r in latest.values() for k in ("item_a", "item_b")}))
    true = {i: score(p) for i, p in items.items()}
    people = sorted({who for _, who in latest})
    stats = []
    for who in people:
        mine = [r for (_, w), r in latest.items() if w == who]
        times = [float(r["created_at"]) - float(r["shown_at"]) for r in mine if r["shown_at"] is not None]
        judged = [
            (r["choice"], true[int(r["item_a"])], true[int(r["item_b"])])
            for r in mine
            if r["choice"] in DECIDED and true[int(r["item_a"])] is not None and true[int(r["item_b"])] is not None
        ]
        judged = [(c, a, b) for c, a, b in judged if a != b]
        agree = [(c == "left") == (a > b) for c, a, b in judged]
        stats.append(AnnotatorStats(
            who, len(mine), statistics.median(times) if times else float("nan"),
            sum(agree) / len(agree) if agree else float("nan"), len(agree),
        ))  # fmt: skip
    pairs = []
    for x, y in itertools.combinations(people, 2):
        shared = sorted({q for q, w in latest if w == x} & {q for q, w in latest if w == y})
        a = [str(latest[(q, x)]["choice"]) for q in shared]
        b = [str(latest[(q, y)]["choice"]) for q in shared]
        agreement = sum(u == v for u, v in zip(a, b)) / len(shared) if shared else float("nan")
        pairs.append(PairAgreement(x, y, len(shared), agreement, cohen_kappa(a, b)))
    return stats, pairs


def write_stats(folder: Path, stats: list[AnnotatorStats], pairs: list[PairAgreement]) -> list[Path]:
    """label_stats.csv (per annotator) and label_agreement.csv (per pair of annotators) in the run folder."""
    paths = []
    for name, rows, kind in (("label_stats.csv", stats, AnnotatorStats), ("label_agreement.csv", pairs, PairAgreement)):
        path = folder / name
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(kind.__dataclass_fields__))
            writer.writeheader()
            writer.writerows(asdict(r) for r in rows)
        paths.append(path)
    return paths
