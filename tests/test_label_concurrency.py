"""Several labelling windows on one run, and windows killed mid-way: no query twice, no acknowledged label lost."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from prefrl.core.store import LabelStore
from tests.label_runs import make_label_run

ROOT = Path(__file__).resolve().parents[1]


def start_window(run, annotator, *extra):
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.label_driver", str(run), annotator, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )


def acks(lines):
    return {int(line.split()[1]): line.split()[2] for line in lines if line.startswith("ack ")}


def test_two_windows_on_one_run_never_get_the_same_query_and_lose_no_label(tmp_path):
    queries = make_label_run(tmp_path / "run", 24)
    windows = {name: start_window(tmp_path / "run", name, "--idle-exit", "4") for name in ("ann", "bob")}
    out = {name: proc.communicate(timeout=240)[0].splitlines() for name, proc in windows.items()}
    got = {name: acks(lines) for name, lines in out.items()}
    assert all(proc.returncode == 0 for proc in windows.values())
    assert set(got["ann"]).isdisjoint(got["bob"])  # no query went to both windows
    assert got["ann"] and got["bob"]  # both did share the work
    store = LabelStore(tmp_path / "run" / "labels.sqlite", create=False)
    rows = store.labels()
    assert sorted(r["query_id"] for r in rows) == sorted(queries)  # every query labelled exactly once
    for row in rows:  # and each label is the one its window acknowledged, under its annotator
        assert got[row["annotator"]][row["query_id"]] == row["choice"]


def test_a_window_killed_mid_way_keeps_every_label_it_acknowledged(tmp_path):
    queries = make_label_run(tmp_path / "run", 20)
    proc = start_window(tmp_path / "run", "ann", "--pause", "0.05", "--lease", "3")
    seen = []
    deadline = time.time() + 180
    while len(acks(seen)) < 6:
        assert time.time() < deadline
        seen.append(proc.stdout.readline().strip())
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    acked = acks(seen)
    store = LabelStore(tmp_path / "run" / "labels.sqlite", create=False)
    stored = {r["query_id"]: r["choice"] for r in store.labels("ann")}
    assert all(stored.get(q) == c for q, c in acked.items())
    # the dead window's claims lapse, and another window finishes the run
    time.sleep(3.5)
    rest = start_window(tmp_path / "run", "bob", "--idle-exit", "4")
    rest.communicate(timeout=240)
    assert store.count_labels() == len(queries)
