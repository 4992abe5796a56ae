import sqlite3
import time

import pytest

from prefrl.core.comparisons import Choice
from prefrl.core.store import LabelStore, StoreError


def make_store(path):
    store = LabelStore(path)
    a, b, c = store.add_items("segment", [bytes([i]) for i in range(3)])
    return store, (a, b, c)


def test_labels_are_on_disk_when_answer_returns(tmp_path):
    store, (a, b, c) = make_store(tmp_path / "labels.sqlite")
    q1, q2 = store.add_queries([(a, b), (b, c)])
    store.answer(q1, Choice.LEFT, annotator="oracle")
    # a second connection (another process, a window) sees the label at once
    other = LabelStore(tmp_path / "labels.sqlite", create=False)
    comps = other.comparisons()
    assert [(x.a, x.b, x.choice) for x in comps] == [(a, b, Choice.LEFT)]
    assert other.pending_queries() == [(q2, b, c)]
    assert other.item(c) == bytes([2])


def test_every_choice_is_kept_and_a_skip_closes_the_query_without_a_label(tmp_path):
    store, (a, b, c) = make_store(tmp_path / "s.sqlite")
    qs = store.add_queries([(a, b), (b, c), (a, c), (c, a), (b, a)])
    for q, choice in zip(qs, [Choice.LEFT, Choice.RIGHT, Choice.EQUAL, Choice.INCOMPARABLE, None]):
        store.answer(q, choice, annotator="x")
    assert [x.choice for x in store.comparisons()] == [Choice.LEFT, Choice.RIGHT, Choice.EQUAL, Choice.INCOMPARABLE]
    assert store.count_queries("skipped") == 1
    assert store.count_queries("pending") == 0


def test_a_file_that_is_not_a_database_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "labels.sqlite"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a readable prefrl label store"):
        LabelStore(path)
    assert path.read_bytes().startswith(b"this is not sqlite")  # untouched


def test_someone_elses_sqlite_file_is_refused(tmp_path):
    path = tmp_path / "labels.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE songs (title TEXT)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not a prefrl label store"):
        LabelStore(path)


def test_a_store_from_a_newer_schema_is_refused(tmp_path):
    store, _ = make_store(tmp_path / "labels.sqlite")
    store._db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    store.close()
    with pytest.raises(StoreError, match="newer prefrl"):
        LabelStore(tmp_path / "labels.sqlite")


def test_opening_a_missing_store_for_resume_fails(tmp_path):
    with pytest.raises(StoreError, match="no label store"):
        LabelStore(tmp_path / "nope.sqlite", create=False)


def test_several_openers_of_a_new_store_at_once_all_get_the_same_store(tmp_path):
    """A trainer creating its store while a labelling window opens it: whoever comes second finds the schema made."""
    import threading

    def open_it(path, start, errors) -> None:
        start.wait()
        try:
            LabelStore(path).close()
        except StoreError as exc:
            errors.append(str(exc))

    for round_ in range(20):
        path = tmp_path / f"{round_}.sqlite"
        start, errors = threading.Barrier(4), []
        threads = [threading.Thread(target=open_it, args=(path, start, errors)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert LabelStore(path, create=False).count_queries() == 0


def test_items_added_together_get_distinct_ids_in_order(tmp_path):
    store = LabelStore(tmp_path / "s.sqlite")
    ids = store.add_items("segment", [b"a", b"b", b"c"])
    assert len(set(ids)) == 3
    assert [store.item(i) for i in ids] == [b"a", b"b", b"c"]


def _store_with_queries(tmp_path, n):
    store = LabelStore(tmp_path / "labels.sqlite")
    ids = store.add_items("segment", [b"x"] * (n + 1))
    qs = store.add_queries([(ids[i], ids[i + 1]) for i in range(n)])
    return store, qs


def test_a_claimed_query_goes_to_no_other_window_until_its_lease_runs_out(tmp_path):
    store, qs = _store_with_queries(tmp_path, 2)
    other = LabelStore(tmp_path / "labels.sqlite")
    assert store.claim("ann", lease_s=60)[0] == qs[0]
    assert other.claim("bob", lease_s=0.05)[0] == qs[1]
    assert store.claim("ann") is None  # everything is held
    time.sleep(0.1)
    assert store.claim("ann")[0] == qs[1]  # bob's lease expired: his window is presumed dead


def test_released_claims_return_to_the_queue(tmp_path):
    store, qs = _store_with_queries(tmp_path, 1)
    store.claim("ann")
    assert store.count_available("bob") == 0
    store.release("ann", [qs[0]])
    assert store.claim("bob")[0] == qs[0]


def test_undo_withdraws_the_latest_label_keeps_a_record_and_hands_the_query_back(tmp_path):
    store, qs = _store_with_queries(tmp_path, 2)
    store.answer(qs[0], Choice.LEFT, annotator="ann")
    store.answer(qs[1], Choice.EQUAL, annotator="ann")
    assert store.undo_last("ann")[0] == qs[1]
    assert [c.choice for c in store.comparisons()] == [Choice.LEFT]
    assert store.count_labels() == 1
    rows = store.labels("ann")
    assert len(rows) == 2 and rows[1]["undone_at"] is not None
    assert store.count_available("bob") == 0  # the undone query is held for ann, who will answer it again
    store.answer(qs[1], Choice.RIGHT, annotator="ann")
    assert [c.choice for c in store.comparisons()] == [Choice.LEFT, Choice.RIGHT]


def test_a_label_records_when_its_pair_was_shown(tmp_path):
    store, qs = _store_with_queries(tmp_path, 1)
    store.mark_shown(qs[0])
    store.answer(qs[0], Choice.LEFT, annotator="ann")
    row = store.labels()[0]
    assert row["shown_at"] is not None and row["shown_at"] <= row["created_at"]


def test_the_pair_on_an_annotators_screen_is_the_last_one_shown_to_them_until_they_answer(tmp_path):
    store, qs = _store_with_queries(tmp_path, 3)
    first, second = store.claim("ann"), store.claim("ann")
    assert store.showing("ann") is None and store.count_shown() == 0
    store.mark_shown(first[0], "ann")
    time.sleep(0.01)
    store.mark_shown(second[0], "ann")
    assert store.showing("ann") == second and store.showing("someone else") is None
    store.answer(second[0], Choice.LEFT, annotator="ann")
    assert store.showing("ann") == first
    assert store.count_shown() == 2


def test_a_version_1_store_is_upgraded_in_place_and_keeps_its_labels(tmp_path):
    path = tmp_path / "labels.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE items (id INTEGER PRIMARY KEY, kind TEXT NOT NULL, created_at REAL NOT NULL, payload BLOB NOT NULL);
        CREATE TABLE queries (id INTEGER PRIMARY KEY, item_a INTEGER NOT NULL, item_b INTEGER NOT NULL,
            created_at REAL NOT NULL, status TEXT NOT NULL DEFAULT 'pending', claimed_by TEXT, lease_until REAL);
        CREATE TABLE labels (id INTEGER PRIMARY KEY, query_id INTEGER NOT NULL, item_a INTEGER NOT NULL,
            item_b INTEGER NOT NULL, choice TEXT NOT NULL, annotator TEXT NOT NULL, created_at REAL NOT NULL);
        CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('app', 'prefrl'), ('schema_version', '1');
        INSERT INTO items VALUES (1, 'segment', 0, x'00'), (2, 'segment', 0, x'00');
        INSERT INTO queries VALUES (1, 1, 2, 0, 'answered', NULL, NULL);
        INSERT INTO labels VALUES (1, 1, 1, 2, 'left', 'oracle', 0);
        """
    )
    db.commit()
    db.close()
    store = LabelStore(path, create=False)
    assert [c.choice for c in store.comparisons()] == [Choice.LEFT]
    assert store.labels()[0]["undone_at"] is None


def test_a_synthetic_teachers_batch_is_one_transaction_all_on_disk_or_none(tmp_path):
    store, (a, b, c) = make_store(tmp_path / "labels.sqlite")
    q1, q2, q3 = store.add_queries([(a, b), (b, c), (a, c)])
    with pytest.raises(StoreError, match="query 999 does not exist"):
        store.answer_many([(q1, Choice.LEFT), (999, Choice.RIGHT)], annotator="oracle")
    assert store.comparisons() == [] and store.count_queries("pending") == 3  # the first answer was rolled back
    store.answer_many([(q1, Choice.LEFT), (q2, None), (q3, Choice.EQUAL)], annotator="oracle")
    other = LabelStore(tmp_path / "labels.sqlite", create=False)  # on disk, seen by another connection
    assert [(x.a, x.b, x.choice) for x in other.comparisons()] == [(a, b, Choice.LEFT), (a, c, Choice.EQUAL)]
    assert other.count_queries("skipped") == 1 and other.count_queries("pending") == 0


def test_a_store_that_cannot_be_written_says_so_rather_than_calling_the_file_damaged(tmp_path):
    with pytest.raises(StoreError, match=r"cannot write the label store .* needs its folder to exist and be writable"):
        LabelStore(tmp_path / "missing-folder" / "labels.sqlite")


def test_a_damaged_store_is_named_as_not_readable(tmp_path):
    (tmp_path / "labels.sqlite").write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(StoreError, match="not a readable prefrl label store"):
        LabelStore(tmp_path / "labels.sqlite")


def test_a_restarted_window_takes_back_its_annotators_claims_at_once_the_one_on_screen_first(tmp_path, monkeypatch):
    from prefrl.core import store as store_module

    monkeypatch.setattr(store_module, "STALE_S", 0.05)  # a window unseen this long is gone (10 s in use)
    store, qs = _store_with_queries(tmp_path, 4)
    killed = store.open_window("ann")
    held = [store.claim("ann", window=killed)[0] for _ in range(3)]
    store.mark_shown(held[0], "ann", killed)
    time.sleep(0.01)
    store.mark_shown(held[1], "ann", killed)  # on screen when the window died
    assert store.claim("bob")[0] == qs[3]  # another person gets the rest, not these
    time.sleep(0.1)  # the window stops renewing: killed
    restarted = store.open_window("ann")
    again = [store.claim("ann", window=restarted)[0] for _ in range(3)]
    assert again == [held[1], held[0], held[2]]  # the pair on screen first, then the others, at once
    assert store.claim("bob") is None  # the leases still run: nobody else could have taken them yet


def test_a_live_window_of_the_same_annotator_keeps_its_claims(tmp_path):
    store, qs = _store_with_queries(tmp_path, 2)
    first, second = store.open_window("ann"), store.open_window("ann")
    assert store.claim("ann", window=first)[0] == qs[0]
    assert store.claim("ann", window=second)[0] == qs[1]  # not the first window's: it is alive


def test_undo_acts_only_on_labels_the_window_gave_even_under_the_same_name(tmp_path):
    store, qs = _store_with_queries(tmp_path, 2)
    left, right = store.open_window("ann"), store.open_window("ann")
    store.answer(qs[0], Choice.LEFT, "ann", window=left)
    store.answer(qs[1], Choice.RIGHT, "ann", window=right)  # the newer label, from the other window
    undone = store.undo_last("ann", window=left)
    assert undone.query_id == qs[0] and undone.choice is Choice.LEFT
    assert [r["window"] for r in store.labels() if r["undone_at"] is None] == [right]
    assert store.undo_last("ann", window=left) is None  # nothing more of its own


def test_every_showing_is_kept_and_a_label_times_its_own_annotators_showing(tmp_path):
    store, qs = _store_with_queries(tmp_path, 1)
    store.mark_shown(qs[0], "ann", "w1")
    time.sleep(0.02)
    store.release("ann", [qs[0]])
    store.mark_shown(qs[0], "bob", "w2")  # shown again, to someone else
    bob_saw = store.showings()[-1]["shown_at"]
    store.answer(qs[0], Choice.LEFT, "bob", window="w2")
    assert [(r["annotator"], r["window"]) for r in store.showings()] == [("ann", "w1"), ("bob", "w2")]
    assert store.labels()[0]["shown_at"] == bob_saw  # bob's own time to decide, not from ann's showing


def test_an_overlap_query_goes_to_a_second_annotator_costs_no_budget_and_both_labels_train(tmp_path):
    store = LabelStore(tmp_path / "labels.sqlite")
    ids = store.add_items("segment", [b"x"] * 4)
    single, double = store.add_queries([(ids[0], ids[1]), (ids[2], ids[3])], wanted=[1, 2])
    for query in (single, double):
        assert store.claim("ann")[0] == query
        store.answer(query, Choice.LEFT, "ann")
    assert store.claim("ann") is None and store.count_available("ann") == 0  # never twice to one person
    assert store.count_available("bob") == 1 and store.claim("bob")[0] == double
    store.answer(double, Choice.RIGHT, "bob")
    assert store.count_labels() == 2 and store.count_standing() == 3  # the budget counts queries, refits labels
    assert [(c.a, c.b, c.choice) for c in store.comparisons()][-2:] == [
        (ids[2], ids[3], Choice.LEFT), (ids[2], ids[3], Choice.RIGHT)
    ]  # fmt: skip
    assert store.claim("carol") is None  # two labels were wanted, two were given


def test_label_stats_count_what_hand_made_labels_say(tmp_path):
    import json

    from prefrl.core.agreement import cohen_kappa, label_stats

    store = LabelStore(tmp_path / "labels.sqlite")
    golds = [3.0, 1.0, 2.0, 5.0, 0.0, 4.0]
    ids = store.add_items("completion", [json.dumps({"gold": g}).encode() for g in golds])
    qs = store.add_queries([(ids[0], ids[1]), (ids[2], ids[3]), (ids[4], ids[5])], wanted=[2, 2, 2])
    answers = {"ann": ["left", "right", "right"], "bob": ["left", "left", "equal"]}
    for who, choices in answers.items():
        for q, c in zip(qs, choices):
            store.mark_shown(q, who, who)
            store.answer(q, Choice(c), who, window=who)
    stats, pairs = label_stats(store, lambda payload: json.loads(payload)["gold"])
    by = {s.annotator: s for s in stats}
    assert by["ann"].labels == 3 and by["ann"].oracle_agreement == 1.0 and by["ann"].oracle_compared == 3
    assert by["bob"].oracle_agreement == 0.5 and by["bob"].oracle_compared == 2  # "equal" is not compared
    assert 0 <= by["ann"].median_seconds < 1
    (pair,) = pairs
    assert (pair.annotator, pair.other, pair.shared) == ("ann", "bob", 3) and pair.agreement == 1 / 3
    # by hand: observed 1/3; ann says left 1/3, right 2/3; bob left 2/3, equal 1/3: chance 2/9
    assert pair.kappa == cohen_kappa(answers["ann"], answers["bob"]) == (1 / 3 - 2 / 9) / (1 - 2 / 9)
