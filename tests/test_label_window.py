"""The labelling window, driven with real key events under SDL's dummy video driver."""

import time

import pygame
import pytest

from prefrl.core.comparisons import Choice
from prefrl.core.store import LabelStore
from prefrl.ui.window import LabelWindow, WindowConfig
from tests.label_runs import make_label_run, press, wait_for_pair


@pytest.fixture
def run(tmp_path):
    queries = make_label_run(tmp_path / "run", 6)
    return tmp_path / "run", queries


def test_each_key_commits_its_label_before_the_next_pair_and_undo_takes_the_last_one_back(run):
    folder, queries = run
    window = LabelWindow(folder, "ann", WindowConfig(clip_size=96))
    store = LabelStore(folder / "labels.sqlite", create=False)

    def latest():
        return [(r["query_id"], r["choice"], r["undone_at"] is None) for r in store.labels()]

    try:
        expected = []
        for key, choice in [
            (pygame.K_LEFT, "left"),
            (pygame.K_d, "right"),
            (pygame.K_w, "equal"),
            (pygame.K_DOWN, "incomparable"),
        ]:
            pair = wait_for_pair(window)
            press(window, key)
            expected.append((pair.query_id, choice, True))
            assert latest() == expected  # committed by the time the key was handled
            assert window.current is None or window.current.query_id != pair.query_id
        assert [q for q, _, _ in expected] == queries[:4]  # oldest query first
        shown_next = wait_for_pair(window).query_id

        press(window, pygame.K_u)  # undo: the "can't tell" is withdrawn and its pair comes back first
        expected[-1] = (queries[3], "incomparable", False)
        assert latest() == expected
        assert wait_for_pair(window).query_id == queries[3]
        press(window, pygame.K_a)
        expected.append((queries[3], "left", True))
        assert latest() == expected
        assert wait_for_pair(window).query_id == shown_next  # the pair undo displaced is shown again

        # what trains: left, right, equal, and the re-given left; "can't tell" is recorded but not trained on
        assert [c.choice for c in store.comparisons()] == [Choice.LEFT, Choice.RIGHT, Choice.EQUAL, Choice.LEFT]
        assert all(r["annotator"] == "ann" and r["shown_at"] <= r["created_at"] for r in store.labels())
    finally:
        window.close()


def test_clicking_a_clip_picks_it_and_escape_quits_handing_claims_back(run):
    folder, queries = run
    window = LabelWindow(folder, "ann", WindowConfig(clip_size=96))
    try:
        pair = wait_for_pair(window)
        right = window.rects[1].center
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, button=1, pos=right))
        window.step()
        store = LabelStore(folder / "labels.sqlite", create=False)
        assert [(r["query_id"], r["choice"]) for r in store.labels()] == [(pair.query_id, "right")]
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE, mod=0, unicode="", scancode=0))
        assert window.step() is False
    finally:
        window.close()
    assert store.count_available("someone else") == len(queries) - 1  # nothing stays claimed by a closed window


def test_space_pauses_and_plus_minus_change_speed_within_bounds(run):
    folder, _ = run
    window = LabelWindow(folder, "ann", WindowConfig(clip_size=96))
    try:
        wait_for_pair(window)
        press(window, pygame.K_SPACE)
        t = window.loop_time
        time.sleep(0.05)
        window.step()
        assert window.loop_time == t
        for _ in range(6):
            press(window, pygame.K_EQUALS)
        assert "speed 4x" in window_state(window)
        for _ in range(8):
            press(window, pygame.K_MINUS)
        assert "speed 0.25x" in window_state(window)
    finally:
        window.close()


def window_state(window):
    from prefrl.ui.window import SPEEDS

    return f"speed {SPEEDS[window.speed_index]:g}x"


def test_an_unreadable_clip_is_rendered_again(run):
    folder, queries = run
    clip_dir = folder / "clips" / "run"
    clip_dir.mkdir(parents=True)
    (clip_dir / "1.mp4").write_bytes(b"not a video")  # item 1 belongs to the first query
    window = LabelWindow(folder, "ann", WindowConfig(clip_size=96))
    try:
        pair = wait_for_pair(window)
        assert pair.query_id == queries[0] and len(pair.frames_a) == 8
        assert (clip_dir / "1.mp4").stat().st_size > 1000
    finally:
        window.close()


def test_no_display_gives_a_one_line_error_naming_the_fixes(run, monkeypatch, capsys):
    from prefrl.cli import main

    folder, _ = run
    monkeypatch.setenv("SDL_VIDEODRIVER", "x11")
    monkeypatch.delenv("DISPLAY", raising=False)
    assert main(["label", str(folder)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prefrl: error: cannot open a window") and "\n" not in err
    assert "SDL_VIDEODRIVER" in err and "Xvfb" in err


def test_an_answer_is_confirmed_on_screen_and_undo_names_the_answer_it_took_back(run, monkeypatch):
    from prefrl.ui import window as window_module

    folder, queries = run
    window = LabelWindow(folder, "ann", WindowConfig(clip_size=96))
    try:
        pair = wait_for_pair(window)
        press(window, pygame.K_d)
        assert window.note() == f"query {pair.query_id}: B is better (recorded)"
        assert window.flash[0] is Choice.RIGHT  # the chosen side's frame lights up
        wait_for_pair(window)
        monkeypatch.setattr(window_module, "MESSAGE_S", 0.2)
        press(window, pygame.K_u)
        assert window.note() == f"undid query {pair.query_id}: B is better; answer it again"
        time.sleep(0.3)
        assert "undid" not in window.note()  # messages expire
    finally:
        window.close()


def test_when_the_trainer_has_finished_and_nothing_is_left_the_window_says_so(tmp_path):
    folder = tmp_path / "run"
    queries = make_label_run(folder, 1)
    store = LabelStore(folder / "labels.sqlite", create=False)
    store.set_state("trainer", "running")
    window = LabelWindow(folder, "ann", WindowConfig(clip_size=96))
    try:
        assert wait_for_pair(window).query_id == queries[0]
        press(window, pygame.K_a)
        window._stats_at = 0.0
        window.step()
        assert not window.finished()  # the trainer may still ask
        assert window.waiting_for() == "nothing asked for yet (trainer: running)"
        store.set_state("trainer", "finished")
        window._stats_at = 0.0
        window.step()
        assert window.finished() and window.waiting_for() == "nothing left to label"
    finally:
        window.close()


def test_a_loop_ends_on_a_hold_and_comma_and_period_step_frame_by_frame(run):
    from prefrl.ui.window import LOOP_HOLD_S

    folder, _ = run
    window = LabelWindow(folder, "ann", WindowConfig(clip_size=96))
    try:
        pair = wait_for_pair(window)
        assert window.loop_length() == pytest.approx(pair.duration + LOOP_HOLD_S)
        press(window, pygame.K_PERIOD)
        assert window.paused and window.loop_time > 0
        frame = 1.0 / max(pair.fps_a, pair.fps_b)
        start = window.loop_time
        press(window, pygame.K_PERIOD)
        assert window.loop_time == pytest.approx(start + frame)
        press(window, pygame.K_COMMA)
        press(window, pygame.K_COMMA)
        assert window.loop_time == pytest.approx(max(start - frame, 0.0))
        for _ in range(10 * len(pair.frames_a)):
            press(window, pygame.K_PERIOD)
        assert window.loop_time == pytest.approx(pair.duration)  # stepping stops at the last frame
    finally:
        window.close()


def test_the_window_resizes_and_scales_clips_down_only_to_fit_never_up(run):
    folder, _ = run
    window = LabelWindow(folder, "ann", WindowConfig(clip_size=96))
    try:
        wait_for_pair(window)
        assert window.rects[0].size == (96, 96)
        # a run that recorded no clip size has its clips made at the window's size: never made small, then stretched
        assert window.view.source.clip_config.width == 96 and window.view.surfaces[0][0].get_size() == (96, 96)
        pygame.event.post(pygame.event.Event(pygame.VIDEORESIZE, w=150, h=400, size=(150, 400)))
        window.step()
        assert window.rects[0].size == (39, 39) and window.rects[1].left > window.rects[0].right  # (150 - 3 x 24) / 2
        assert window.view.surfaces[0][0].get_size() == (39, 39)  # the frames scaled to fit
        pygame.event.post(pygame.event.Event(pygame.VIDEORESIZE, w=2000, h=1500, size=(2000, 1500)))
        window.step()
        assert window.rects[0].size == (96, 96)  # no larger than the clips are made
    finally:
        window.close()
