"""How fast clips render and how fast a person can label (the figures in docs/notes/labelling.md).

1. Seconds to render one 1.5 s clip pair at 256 px with a 2-process RenderPool (HalfCheetah-v5 30 steps, Hopper-v5
   60 steps), rendering and mp4 encoding included.
2. Seconds from a key press to the next pair on screen (label committed to SQLite with fsync, next pair drawn), with
   the window's prefetch.
3. Sustained labels/min of a scripted person who answers 1 s after each pair appears (60/min), and of one who
   answers at once, with clips rendered ahead (as the trainer does) and with clips rendered on demand by the window.

Usage: python benchmarks/labelling.py [--pairs 40]   (runs headless: SDL_VIDEODRIVER=dummy)
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
from prefrl.media.clips import RenderPool, choose_gl_backend
from prefrl.ui.window import LabelWindow, WindowConfig
from tests.label_runs import make_label_run


def render_pairs(env_id: str, length: int, pairs: int, root: Path) -> list[float]:
    folder = root / f"render-{env_id}"
    make_label_run(folder, pairs, env_id=env_id, length=length)
    store = LabelStore(folder / "labels.sqlite", create=False)
    pool = RenderPool(env_id, folder / "clips", "bench", workers=2)
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
    window = LabelWindow(folder, "bench", WindowConfig(clip_size=256))
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
    for env_id, length in (("HalfCheetah-v5", 30), ("Hopper-v5", 60)):
        t = render_pairs(env_id, length, min(args.pairs, 20), root)
        print(f"render a 1.5 s clip pair at 256 px, {env_id} ({length} steps): median {statistics.median(t):.3f} s, "
              f"max {max(t):.3f} s over {len(t)} pairs")  # fmt: skip
    for ahead in (True, False):
        for think in (1.0, 0.0):
            folder = root / f"label-{ahead}-{think}"
            make_label_run(folder, args.pairs + 2, length=30)
            if ahead:
                store = LabelStore(folder / "labels.sqlite", create=False)
                ids = sorted({i for _, a, b in store.pending_queries() for i in (a, b)})
                pool = RenderPool("HalfCheetah-v5", folder / "clips", folder.name, workers=2)
                pool.render({i: store.item(i) for i in ids})
                pool.close()
            r = label_session(folder, args.pairs, think)
            print(
                f"person answering {'1 s after' if think else 'as soon as'} a pair appears, clips "
                f"{'rendered ahead' if ahead else 'rendered on demand by the window'}: {r['labels_per_min']:.0f} "
                f"labels/min, next pair on screen after a key: median {r['next_pair_median_ms']:.0f} ms, "
                f"p95 {r['next_pair_p95_ms']:.0f} ms, waited for a pair {r['waited_for_a_pair']} times"
            )


if __name__ == "__main__":
    main()
