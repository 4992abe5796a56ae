"""Agreement you can measure: overlap queries go to two people, and `prefrl label RUN --stats` reports who labelled
what, how fast, how often they agree with each other and with the oracle."""

import csv

import numpy as np

from prefrl.cli import main
from prefrl.control.config import TrainConfig
from prefrl.control.segments import Segment
from prefrl.control.trainer import Trainer
from prefrl.core.comparisons import Choice
from prefrl.core.store import LabelStore
from tests.label_runs import make_label_run


def test_a_person_labelled_run_sends_its_overlap_share_of_queries_to_a_second_annotator(tmp_path):
    trainer = Trainer(TrainConfig(env="HalfCheetah-v5", teacher="human", labels=400, overlap=0.25), tmp_path / "r")
    loop = trainer.loop
    try:
        loop.collect_random_segments(60)
        candidates = loop.buffer.recent()
        rows = np.array([[i, i + 1] for i in range(0, 400, 2)]) % len(candidates)
        ids = loop._store_queries(candidates, rows)
    finally:
        trainer.close()
    wanted = [w for (w,) in loop.store._db.execute("SELECT wanted FROM queries ORDER BY id")]
    assert len(ids) == len(wanted) == 200 and set(wanted) == {1, 2}
    assert 0.15 < wanted.count(2) / 200 < 0.35  # about a quarter


def test_stats_report_and_write_what_the_labels_in_the_store_say(tmp_path, capsys):
    run = tmp_path / "run"
    queries = make_label_run(run, 4, length=6)
    store = LabelStore(run / "labels.sqlite", create=False)
    returns = {}
    for q, a, b in store.pending_queries():
        returns[q] = [Segment.from_bytes(store.item(i)).true_return for i in (a, b)]
    oracle = {q: Choice.LEFT if ra > rb else Choice.RIGHT for q, (ra, rb) in returns.items()}
    flip = {Choice.LEFT: Choice.RIGHT, Choice.RIGHT: Choice.LEFT}
    ann = {q: oracle[q] for q in queries}  # agrees with the oracle on all four
    bob = {q: oracle[q] if i < 2 else flip[oracle[q]] for i, q in enumerate(queries[:3])}  # on two of three
    for who, answers in (("ann", ann), ("bob", bob)):
        for q, choice in answers.items():
            store.mark_shown(q, who, who)
            store.answer(q, choice, who, window=who)
    store.close()
    assert main(["label", str(run), "--stats"]) == 0
    out = capsys.readouterr().out
    assert "ann and bob: 3 queries both answered, agreement 0.67" in out
    with (run / "label_stats.csv").open() as f:
        rows = {r["annotator"]: r for r in csv.DictReader(f)}
    assert rows["ann"]["labels"] == "4" and float(rows["ann"]["oracle_agreement"]) == 1.0
    assert rows["bob"]["labels"] == "3" and float(rows["bob"]["oracle_agreement"]) == 2 / 3
    with (run / "label_agreement.csv").open() as f:
        (pair,) = list(csv.DictReader(f))
    assert pair["shared"] == "3" and float(pair["agreement"]) == 2 / 3
