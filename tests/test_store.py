import sqlite3

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


def test_items_added_together_get_distinct_ids_in_order(tmp_path):
    store = LabelStore(tmp_path / "s.sqlite")
    ids = store.add_items("segment", [b"a", b"b", b"c"])
    assert len(set(ids)) == 3
    assert [store.item(i) for i in ids] == [b"a", b"b", b"c"]
