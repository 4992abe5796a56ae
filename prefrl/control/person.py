"""A person as the teacher: their clips rendered ahead of them, PPO held while they fall behind, and refits on
whatever they have labelled (they answer through the label store, in `prefrl label` windows)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from prefrl.control.config import clip_config
from prefrl.media.clips import RenderPool

if TYPE_CHECKING:
    from prefrl.control.loop import PreferenceLoop
    from prefrl.control.segments import Segment


def render_ahead(loop: PreferenceLoop, candidates: list[Segment], rows: np.ndarray) -> None:
    """Render the clips of the queries just asked, in the background, so the person never waits for them."""
    if loop.render_pool is None:
        c = loop.config
        loop.render_pool = RenderPool(
            c.env, Path(c.clips_dir).resolve(), loop.out.resolve().name, clip_config(c), workers=c.render_workers,
            renders=loop.mujoco,
        )  # fmt: skip
    for seg in {id(candidates[r]): candidates[r] for r in np.unique(rows)}.values():
        loop.render_pool.submit(loop._stored[id(seg)], seg.to_bytes())


def wait_for_initial_labels(loop: PreferenceLoop) -> None:
    """Block (only here, before PPO starts) until a person has answered the up-front queries."""
    loop.store.set_state("trainer", "waiting for labels")
    wanted = loop.schedule.initial
    answered = loop.store.count_queries() - loop.store.count_queries("pending")
    with tqdm(
        total=wanted,
        initial=min(answered, wanted),
        unit="label",
        disable=not loop.config.progress,
        desc="up-front labels (prefrl label " + str(loop.out) + ")",
    ) as bar:
        while answered < wanted:
            time.sleep(0.5)
            answered = loop.store.count_queries() - loop.store.count_queries("pending")
            bar.n = min(answered, wanted)
            bar.refresh()
    loop.refit()


def max_lag(loop: PreferenceLoop) -> int:
    """Unanswered labels a person may fall behind by before PPO waits for them."""
    c = loop.config
    return c.max_lag if c.max_lag is not None else max(1, round(0.05 * c.labels))


def wait_for_person(loop: PreferenceLoop) -> None:
    """Hold PPO while the person is more than `max_lag` labels behind the queries asked."""
    if loop.config.no_wait or loop.store.count_queries("pending") <= max_lag(loop):
        return
    loop.store.set_state("trainer", "waiting for labels")
    while loop.store.count_queries("pending") > max_lag(loop):
        time.sleep(0.5)
    loop.store.set_state("trainer", "running")


def refit_if_new_labels(loop: PreferenceLoop, last: bool = False) -> None:
    """Labels arrive whenever a person gives them; refit when there are new ones, never wait, except after the
    `last` rollout, where the final model takes in every label given."""
    if last:
        loop.install_refit()
    if loop._in_flight is None and loop.store.count_standing() != loop.fitted_on:
        loop.refit(None if last else loop.config.refit_lag)
