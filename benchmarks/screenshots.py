"""Redraw the labelling window's screenshots in docs/ from a real X server (Xvfb): the first pair, the moment after
an answer, waiting for the trainer, the end screen, and a text run's ranking.

    python benchmarks/screenshots.py [--out docs]

Each picture is the window's own surface on the X server, after a second of playing the clips.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.label_runs import make_label_run, make_text_run
from tests.xserver import xvfb


def settle(window, seconds: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    """Step the window until a pair is on screen, then play it for a while."""
    deadline = time.time() + 120
    while window.current is None and not window.finished():
        assert time.time() < deadline, "no pair reached the screen"
        window.step()
        time.sleep(0.01)
    end = time.time() + seconds
    while time.time() < end:
        window.step()
        time.sleep(0.01)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    args = p.parse_args()
    root = Path(tempfile.mkdtemp(prefix="prefrl-shots-"))
    args.out.mkdir(parents=True, exist_ok=True)
    with xvfb() as display:
        os.environ["DISPLAY"] = display
        os.environ.pop("SDL_VIDEODRIVER", None)
        os.environ.setdefault("MUJOCO_GL", "egl")
        import pygame

        from prefrl.core.store import LabelStore
        from prefrl.ui.window import LabelWindow

        run = root / "hopper"
        make_label_run(run, 4, env_id="Hopper-v5", length=188)
        store = LabelStore(run / "labels.sqlite", create=False)
        store.set_state("trainer", "running")
        store.set_state("instruction", "Which hopper moves forward faster without falling?")
        window = LabelWindow(run, "alice")
        settle(window, 0.4)  # mid-clip: the hoppers still falling
        window.screenshot(args.out / "label-window.png")
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_LEFT, mod=0, unicode="", scancode=0))
        window.step()
        window.draw()
        window.screenshot(args.out / "label-window-answered.png")
        for _ in range(3):  # answer the rest: nothing asked for, the trainer still running
            settle(window, 0.1)
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT, mod=0, unicode="", scancode=0))
            window.step()
        time.sleep(4.5)  # the last answer's message expires
        window._stats_at = 0.0
        window.step()
        window.screenshot(args.out / "label-window-waiting.png")
        store.set_state("trainer", "finished")
        window._stats_at = 0.0
        window.step()
        window.screenshot(args.out / "label-window-end.png")
        window.close()

        text = root / "text"
        make_text_run(text, prompts=2, k=4, ranked=True)
        config = json.loads((text / "config.json").read_text())
        (text / "config.json").write_text(json.dumps({**config, "k": 4}))
        window = LabelWindow(text, "alice")
        settle(window, 0.2)
        for key in (pygame.K_2, pygame.K_4):  # two placed so far
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))
            window.step()
        window.draw()
        window.screenshot(args.out / "label-window-ranking.png")
        window.close()
    for name in ("label-window", "label-window-answered", "label-window-waiting", "label-window-end",
                 "label-window-ranking"):  # fmt: skip
        print(args.out / f"{name}.png")


if __name__ == "__main__":
    main()
