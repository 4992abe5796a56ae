"""Ranking a text run: all K completions of a prompt at once, put in order with number keys, stored as the C(K,2)
comparisons of one group (real pygame under SDL's dummy video driver)."""

import pygame
import pytest

from prefrl.core.store import LabelStore
from prefrl.ui.text_ranking import RankView
from prefrl.ui.window import LabelWindow
from tests.label_runs import make_text_run, press, wait_for_pair


@pytest.fixture
def run(tmp_path):
    queries = make_text_run(tmp_path / "run", prompts=2, k=3, ranked=True)
    return tmp_path / "run", queries


def standing(folder):
    store = LabelStore(folder / "labels.sqlite", create=False)
    rows = [(r["query_id"], r["choice"]) for r in store.labels() if r["undone_at"] is None]
    store.close()
    return rows


def test_a_prompt_and_all_its_completions_are_ranked_at_once_into_its_pairs(run):
    folder, queries = run
    window = LabelWindow(folder, "ann")
    try:
        assert isinstance(window.view, RankView) and len(window.rects) == 3  # all three completions on screen
        ranking = wait_for_pair(window)
        assert ranking.query_ids == queries[:3] and window.view.prompt_lines  # the first prompt, with its prompt
        a, b, c = ranking.items
        press(window, pygame.K_3)  # the third completion is the best,
        press(window, pygame.K_1)  # then the first; the second is the worst, implied
        assert standing(folder) == []  # nothing stored until the ranking is submitted
        press(window, pygame.K_RETURN)
        # queries are (a, b), (a, c), (b, c): a beats b, c beats a, c beats b
        assert standing(folder) == [(queries[0], "left"), (queries[1], "right"), (queries[2], "right")]
        assert wait_for_pair(window).group != ranking.group  # the next prompt
    finally:
        window.close()


def test_a_ranking_is_submitted_only_when_complete_and_backspace_takes_a_pick_back(run):
    folder, queries = run
    window = LabelWindow(folder, "ann")
    try:
        wait_for_pair(window)
        press(window, pygame.K_2)
        press(window, pygame.K_RETURN)
        assert "place 1 more" in window.note() and standing(folder) == []
        press(window, pygame.K_BACKSPACE)  # not the 2 after all
        press(window, pygame.K_1)
        press(window, pygame.K_2)
        press(window, pygame.K_RETURN)
        assert standing(folder) == [(queries[0], "left"), (queries[1], "left"), (queries[2], "left")]
    finally:
        window.close()


def test_undo_withdraws_the_whole_ranking_and_shows_its_prompt_again(run):
    folder, queries = run
    window = LabelWindow(folder, "ann")
    try:
        first = wait_for_pair(window)
        for key in (pygame.K_1, pygame.K_2, pygame.K_RETURN):
            press(window, key)
        press(window, pygame.K_u)
        assert standing(folder) == [] and window.current.group == first.group and window.view.order == []
        for key in (pygame.K_3, pygame.K_2, pygame.K_RETURN):
            press(window, key)
        assert standing(folder) == [(queries[0], "right"), (queries[1], "right"), (queries[2], "right")]
    finally:
        window.close()


def test_two_windows_never_get_the_same_ranking(tmp_path):
    make_text_run(tmp_path / "run", prompts=8, k=3, ranked=True)  # each window prepares a few rankings ahead
    first, second = LabelWindow(tmp_path / "run", "ann"), LabelWindow(tmp_path / "run", "bob")
    try:
        assert wait_for_pair(first).group != wait_for_pair(second).group
    finally:
        first.close()
        second.close()
