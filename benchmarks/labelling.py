"""How fast clips render and how fast a person can label (the figures in docs/notes/labelling.md).

1. Seconds to render one 1.5-s clip pair at 384 px (the default) with a 2-process RenderPool (HalfCheetah-v5 30
   steps, Hopper-v5 188 steps), rendering and mp4 encoding included.
2. Seconds from a key press to the next pair on screen (label committed to SQLite with fsync, next pair drawn), with
   the window's prefetch.
3. Sustained labels/min of a scripted person who answers 1 s after a pair's clips have played once (2.5 s a pair,
   at most 24/min), and of one who answers at once, with clips rendered in the background as the person labels (as
   the trainer renders them ahead) and with clips rendered on demand by the window; and how often the person waited
   for a pair.

Usage: python benchmarks/labelling.py [--pairs 40]   (runs headless: SDL_VIDEODRIVER=dummy; time it on an idle
machine)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pygame

from prefrl.core.store import LabelStore
from prefrl.media.clips import ClipConfig, RenderPool, choose_gl_backend
from prefrl.ui.window import LabelWindow, WindowConfig
from tests.label_runs import make_label_run

CLIP_S = 1.5
"""Seconds a clip plays once."""


def render_pairs(env_id: str, length: int, pairs: int, root: Path) -> list[float]:
    folder = root / f"render-{env_id}"
    make_label_run(folder, pairs, env_id=env_id, length=length)
    store = LabelStore(folder / "labels.sqlite", create=False)
    pool = RenderPool(env_id, folder / "clips", "bench", ClipConfig(steps=length), workers=2)
    times = []
    try:
        for _, a, b in store.pending_queries():
            t = time.perf_counter()
            pool.render({a: store.item(a), b: store.item(b)}, force=True)
            times.append(time.perf_counter() - t)
    finally:
        pool.close()
    return times


def label_session(folder: Path, n: int, think: float) -> dict[str, float]:
    """A person who answers `think` seconds after each pair appears; returns latencies and the achieved rate."""
    window = LabelWindow(folder, "bench", WindowConfig(clip_size=384))
    latencies, waits = [], 0
    try:
        while window.current is None:  # the first pair (clip loading) is not part of the sustained rate
            window.step()
            time.sleep(0.005)
        start = time.perf_counter()
        shown_at = start
        for i in range(n):
            while time.perf_counter() - shown_at < think:
                window.step()
                time.sleep(0.005)
            key = pygame.K_LEFT if i % 2 else pygame.K_RIGHT
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))
            t = time.perf_counter()
            window.step()  # commits the label and puts the next prefetched pair up
            if i == n - 1:
                break
            if window.current is None:
                waits += 1
            while window.current is None:
                window.step()
                time.sleep(0.001)
            window.draw()
            shown_at = time.perf_counter()
            latencies.append(shown_at - t)
        elapsed = time.perf_counter() - start
    finally:
        window.close()
    return {
        "labels_per_min": 60 * n / elapsed,
        "next_pair_median_ms": 1000 * statistics.median(latencies),
        "next_pair_p95_ms": 1000 * sorted(latencies)[int(0.95 * (len(latencies) - 1))],
        "waited_for_a_pair": waits,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=int, default=40)
    args = p.parse_args()
    choose_gl_backend()
    root = Path(tempfile.mkdtemp(prefix="prefrl-bench-"))
    print(f"machine: {os.cpu_count()} cores, MUJOCO_GL={os.environ['MUJOCO_GL']}")
    for env_id, length in (("HalfCheetah-v5", 30), ("Hopper-v5", 188)):
        t = render_pairs(env_id, length, min(args.pairs, 20), root)
        print(f"render a 1.5 s clip pair at 384 px, {env_id} ({length} steps): median {statistics.median(t):.3f} s, "
              f"max {max(t):.3f} s over {len(t)} pairs")  # fmt: skip
    for env_id, length in (("HalfCheetah-v5", 30), ("Hopper-v5", 188)):
        for ahead in (True, False):
            for think in (CLIP_S + 1.0, 0.0):
                folder = root / f"label-{env_id}-{ahead}-{think}"
                make_label_run(folder, args.pairs + 2, env_id=env_id, length=length)
                pool = None
                if ahead:  # as the trainer does: every asked pair's clips rendered in the background
                    store = LabelStore(folder / "labels.sqlite", create=False)
                    pool = RenderPool(env_id, folder / "clips", folder.name, ClipConfig(steps=length), workers=2)
                    for _, a, b in store.pending_queries():
                        for i in (a, b):
                            pool.submit(i, store.item(i))
                try:
                    r = label_session(folder, args.pairs, think)
                finally:
                    if pool is not None:
                        pool.close()
                print(
                    f"{env_id}: person answering {'1 s after the clips played' if think else 'at once'}, clips "
                    f"{'rendered in the background' if ahead else 'rendered on demand by the window'}: "
                    f"{r['labels_per_min']:.0f} labels/min, next pair on screen after a key: median "
                    f"{r['next_pair_median_ms']:.0f} ms, p95 {r['next_pair_p95_ms']:.0f} ms, waited for a pair "
                    f"{r['waited_for_a_pair']} times"
                )


if __name__ == "__main__":
    main()
