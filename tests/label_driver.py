"""A labelling window in its own process, pressing keys itself (SDL dummy driver): a stand-in hand, real window.

Prints "ack <query id> <choice>" after each label is committed, so a test can check that nothing acknowledged is
ever lost, even when this process is killed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame

from prefrl.ui.pairs import SourceConfig
from prefrl.ui.window import LabelWindow, WindowConfig


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("annotator")
    p.add_argument("--max-labels", type=int, default=10**9)
    p.add_argument("--pause", type=float, default=0.0, help="seconds between labels")
    p.add_argument("--idle-exit", type=float, default=3.0, help="quit after this long with nothing to label")
    p.add_argument("--lease", type=float, default=60.0)
    p.add_argument("--hold", action="store_true", help="after --max-labels, keep the next pair on screen unanswered")
    args = p.parse_args()

    def ack(query_id, choice):
        print(f"ack {query_id} {choice.value}", flush=True)

    window = LabelWindow(
        args.run, args.annotator, WindowConfig(clip_size=64, source=SourceConfig(lease_s=args.lease)), on_label=ack
    )
    print("ready", flush=True)
    given, idle_since = 0, time.time()
    try:
        while (given < args.max_labels or args.hold) and window.step():
            if given >= args.max_labels:  # holding the next pair on screen, as a person who has not decided yet
                if window.current is not None:
                    print(f"showing {window.current.query_id}", flush=True)
                    while window.step():
                        time.sleep(0.02)
                    break
                time.sleep(0.005)
                continue
            if window.current is not None:
                time.sleep(args.pause)
                key = pygame.K_LEFT if window.current.query_id % 2 else pygame.K_RIGHT
                pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))
                window.step()
                given += 1
                idle_since = time.time()
            elif window.source.queued() or window.store.count_available(args.annotator):
                idle_since = time.time()  # work is on its way (clips rendering)
            elif time.time() - idle_since > args.idle_exit:
                break
            time.sleep(0.005)
    finally:
        window.close()
    print("done", flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
