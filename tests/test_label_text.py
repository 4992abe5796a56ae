"""The labelling window on a text run: the prompt, two completions side by side, and the same keys as for clips.

Driven with real key and mouse events under SDL's dummy video driver, on a run folder built without any model.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pygame
import pytest

from prefrl.core.comparisons import Choice
from prefrl.core.store import LabelStore
from prefrl.errors import PrefrlError
from prefrl.ui.text_view import TextView, fit
from prefrl.ui.window import LabelWindow, WindowConfig
from tests.label_runs import make_text_run, press, wait_for_pair
from tests.xserver import have_x_tools, screenshot_when_shown, xvfb

ROOT = Path(__file__).resolve().parents[1]


def text_pixels(window, rect):
    """Pixels of light text (completions are near-white, the prompt light blue) on the dark panels."""
    pixels = pygame.surfarray.array3d(window.screen.subsurface(rect))
    return int((pixels.min(axis=-1) > 150).sum())


def words(text):
    return " ".join(text.split())


@pytest.fixture
def run(tmp_path):
    queries = make_text_run(tmp_path / "run", prompts=2, k=3)
    return tmp_path / "run", queries


@pytest.fixture
def window(run):
    window = LabelWindow(run[0], "ann")
    yield window
    window.close()


def test_a_text_run_shows_the_prompt_and_the_two_completions_of_the_oldest_query(run, window):
    folder, queries = run
    store = LabelStore(folder / "labels.sqlite", create=False)
    pair = wait_for_pair(window)
    a, b = (json.loads(store.item(i)) for i in (pair.item_a, pair.item_b))
    assert pair.query_id == queries[0] and a["group"] == b["group"]
    assert pair.prompt == a["prompt"].strip() and b["prompt"] == a["prompt"]
    assert (pair.completion_a, pair.completion_b) == (a["completion"], b["completion"])
    # what is drawn is every word of them, wrapped: nothing cut, nothing scrolled away
    assert words(" ".join(window.view.prompt_lines)) == words(a["prompt"])
    assert [words(" ".join(lines)) for lines in window.view.lines] == [words(a["completion"]), words(b["completion"])]
    assert text_pixels(window, window.header) > 300
    assert all(text_pixels(window, rect) > 300 for rect in window.rects)
    assert window.instruction == "Which completion is better?"
    assert "6 still asked for" in window.status_line()  # no label budget in a text run: the pending queries


def test_the_run_s_own_question_replaces_the_default(run):
    folder, _ = run
    store = LabelStore(folder / "labels.sqlite", create=False)
    store.set_state("instruction", "Which story is kinder?")
    store.set_state("trainer", "waiting for labels")
    window = LabelWindow(folder, "ann")
    try:
        wait_for_pair(window)
        assert window.instruction == "Which story is kinder?"
        time.sleep(1.0)  # the status line refreshes once a second
        window.step()
        assert "trainer: waiting for labels" in window.status_line()
    finally:
        window.close()


def test_each_key_commits_its_label_before_the_next_pair_and_undo_shows_the_pair_again(run, window):
    folder, queries = run
    store = LabelStore(folder / "labels.sqlite", create=False)

    def latest():
        return [(r["query_id"], r["choice"], r["undone_at"] is None) for r in store.labels()]

    expected = []
    keys = [(pygame.K_LEFT, "left"), (pygame.K_d, "right"), (pygame.K_w, "equal"), (pygame.K_DOWN, "incomparable")]
    for key, choice in keys:
        pair = wait_for_pair(window)
        press(window, key)
        expected.append((pair.query_id, choice, True))
        assert latest() == expected  # committed by the time the key was handled
        assert window.current is None or window.current.query_id != pair.query_id
    assert [q for q, _, _ in expected] == queries[:4]
    shown_next = wait_for_pair(window).query_id

    press(window, pygame.K_BACKSPACE)  # undo: the "can't tell" is withdrawn and its pair comes back first
    expected[-1] = (queries[3], "incomparable", False)
    assert latest() == expected
    assert wait_for_pair(window).query_id == queries[3]
    press(window, pygame.K_a)  # a new answer replaces the undone one
    expected.append((queries[3], "left", True))
    assert latest() == expected
    assert wait_for_pair(window).query_id == shown_next  # the pair undo displaced is shown again

    assert [c.choice for c in store.comparisons()] == [Choice.LEFT, Choice.RIGHT, Choice.EQUAL, Choice.LEFT]
    assert all(r["annotator"] == "ann" and r["shown_at"] <= r["created_at"] for r in store.labels())


def test_undo_in_a_new_window_leaves_the_labels_of_an_earlier_one_alone(run):
    """Undo acts on the labels this window gave, never on another window's, even under the same name."""
    folder, queries = run
    first = LabelWindow(folder, "ann")
    try:
        wait_for_pair(first)
        press(first, pygame.K_RIGHT)
    finally:
        first.close()
    window = LabelWindow(folder, "ann")
    try:
        wait_for_pair(window)
        press(window, pygame.K_u)
        assert window.note() == "nothing to undo"
        store = LabelStore(folder / "labels.sqlite", create=False)
        assert [(r["query_id"], r["choice"], r["undone_at"]) for r in store.labels()] == [(queries[0], "right", None)]
    finally:
        window.close()


def test_clicking_a_completion_picks_it_and_escape_quits_handing_claims_back(run):
    folder, queries = run
    store = LabelStore(folder / "labels.sqlite", create=False)
    window = LabelWindow(folder, "ann")
    first = wait_for_pair(window)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=window.rects[1].center))
    window.step()
    second = wait_for_pair(window)
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=window.rects[0].center))
    window.step()
    labels = [(r["query_id"], r["choice"]) for r in store.labels()]
    assert labels == [(first.query_id, "right"), (second.query_id, "left")]
    wait_for_pair(window)
    assert store.count_available("someone else") < len(queries) - 2  # this window holds pairs ahead of the person
    press(window, pygame.K_ESCAPE)
    assert window.running is False
    window.close()
    assert store.count_available("someone else") == len(queries) - 2  # nothing stays claimed by a closed window


def test_pause_speed_and_restart_keys_do_nothing_on_text(run, window):
    folder, _ = run
    pair = wait_for_pair(window)
    for key in (pygame.K_SPACE, pygame.K_MINUS, pygame.K_EQUALS, pygame.K_r):
        press(window, key)
    assert window.running and window.current is pair and not window.paused and window.loop_time == 0.0
    assert LabelStore(folder / "labels.sqlite", create=False).labels() == []
    assert "Space" not in " ".join(window.view.help)  # and the help line does not offer them


def test_a_pair_that_cannot_be_shown_is_passed_over_and_the_queue_behind_it_still_comes(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"oracle": "combo", "k": 2, "out": str(folder)}))
    store = LabelStore(folder / "labels.sqlite")
    good = {"prompt": "Tell a story.", "completion": "A fox ran.", "ended": True}
    broken, a, b = store.add_items("text", [b"not json", json.dumps(good).encode(), json.dumps(good).encode()])
    first, second = store.add_queries([(broken, a), (a, b)])
    window = LabelWindow(folder, "ann")
    try:
        assert wait_for_pair(window, timeout=20).query_id == second
        assert any(f"query {first}" in m for m in window.source.messages)
        press(window, pygame.K_LEFT)
    finally:
        window.close()
    assert store.count_queries("pending") == 1  # the broken one waits, unclaimed, for a fix
    assert [r["query_id"] for r in store.labels()] == [second]


def test_a_completion_too_long_for_its_column_is_drawn_smaller_never_cut():
    pygame.font.init()
    text = " ".join(["Vianstum found a remarkably extraordinary umbrella"] * 13)  # 65 long words
    face, lines = fit(text, width=300, height=200)
    assert words(" ".join(lines)) == words(text)
    assert len(lines) * face.get_linesize() <= 200
    assert all(face.size(line)[0] <= 300 for line in lines)
    face, lines = fit("Supercalifragilisticexpialidocious" * 3, width=120, height=400)  # one word wider than a line
    assert "".join(lines) == "Supercalifragilisticexpialidocious" * 3 and all(face.size(x)[0] <= 120 for x in lines)


def test_a_run_folder_that_is_neither_a_control_nor_a_text_run_is_refused(run):
    folder, _ = run
    (folder / "config.json").write_text(json.dumps({"k": 3}))
    with pytest.raises(PrefrlError, match=r"names neither an env .* nor an oracle"):
        LabelWindow(folder, "ann")


def test_prefrl_label_opens_a_text_run_in_text_mode(run, monkeypatch):
    # the command's own function: test_label_window covers its argument parsing, and building the whole parser
    # imports the text trainer's stack (seconds)
    from prefrl.cli import _label

    folder, _ = run
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")  # no display: the window is built up to the point of opening it
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(PrefrlError, match="cannot open a window"):
        _label(argparse.Namespace(run=folder, annotator="ann", clip_size=384, stats=False))
    store = LabelStore(folder / "labels.sqlite", create=False)
    assert store.count_available("someone else") == store.count_queries("pending")  # its claims were handed back


def start_window(run, annotator):
    """A window in its own process that answers every pair it gets and prints "ack <query> <choice>"."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.label_driver", str(run), annotator, "--pause", "0.1", "--idle-exit", "1.5"],
        env=dict(os.environ, SDL_VIDEODRIVER="dummy", PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )


def acks(lines):
    return {int(line.split()[1]): line.split()[2] for line in lines if line.startswith("ack ")}


def test_two_windows_on_one_text_run_never_get_the_same_query(tmp_path):
    queries = make_text_run(tmp_path / "run", prompts=8, k=3)
    windows = {name: start_window(tmp_path / "run", name) for name in ("ann", "bob")}
    out = {name: proc.communicate(timeout=60)[0].splitlines() for name, proc in windows.items()}
    assert all(proc.returncode == 0 for proc in windows.values())
    got = {name: acks(lines) for name, lines in out.items()}
    assert set(got["ann"]).isdisjoint(got["bob"])  # no query went to both windows
    assert got["ann"] and got["bob"]  # both did share the work
    store = LabelStore(tmp_path / "run" / "labels.sqlite", create=False)
    rows = store.labels()
    assert sorted(r["query_id"] for r in rows) == sorted(queries)  # every query labelled exactly once
    assert all(got[r["annotator"]][r["query_id"]] == r["choice"] for r in rows)


@pytest.mark.skipif(not have_x_tools(), reason="needs Xvfb, xwd and xdotool (.ci/run installs them)")
def test_on_a_real_x_server_the_window_draws_the_prompt_and_both_completions(run, tmp_path):
    """PREFRL_SCREENSHOT_TEXT=/tmp/text.png pytest tests/test_label_text.py -k x_server retakes the
    screenshot in the docs."""
    folder, _ = run
    with xvfb() as display:
        env = dict(os.environ, DISPLAY=display, SDL_VIDEODRIVER="x11", PYTHONPATH=str(ROOT))
        code = f"from prefrl.ui.window import LabelWindow; LabelWindow({str(folder)!r}, 'shot').run()"
        window = subprocess.Popen(
            [sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        image = screenshot_when_shown(display, window, folder / "labels.sqlite", 30, settle_s=1.2, find_timeout=60)
    from PIL import Image

    Image.fromarray(image).save(os.environ.get("PREFRL_SCREENSHOT_TEXT", tmp_path / "window.png"))
    (w, h), margin, top = WindowConfig().text_column, 24, 64 + TextView.header_height
    light = image.min(axis=-1) > 150  # text on the dark panels
    assert light[64 : top - 16, margin:-margin].sum() > 300, "no prompt drawn"
    for x0 in (margin, 2 * margin + w):
        assert light[top : top + h, x0 : x0 + w].sum() > 300, "a completion is missing"
