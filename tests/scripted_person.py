"""A scripted "person": watches which pair a labelling window shows and presses the key the true reward calls for.

It runs as its own process and types real key presses into the window on an X server with xdotool, so the window
under test is exactly what a person uses.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

from prefrl.control.segments import Segment
from prefrl.core.store import LabelStore


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store")
    p.add_argument("annotator")
    p.add_argument("window", help="X window id")
    p.add_argument("--until-state", default="finished")
    args = p.parse_args()
    store = LabelStore(args.store, create=False)
    env = {"DISPLAY": os.environ["DISPLAY"]}
    subprocess.run(["xdotool", "windowfocus", args.window], env=env, check=False)
    last = None
    while store.get_state("trainer") not in (args.until_state, "stopped"):
        query = store.showing(args.annotator)
        if query is None or query[0] == last:
            time.sleep(0.05)
            continue
        qid, a, b = query
        ra, rb = (Segment.from_bytes(store.item(i)).true_return for i in (a, b))
        key = "Left" if ra > rb else "Right" if rb > ra else "Up"
        time.sleep(0.3)  # a quick person
        subprocess.run(["xdotool", "key", key], env=env, check=True)  # XTEST: a real key press on the focused window
        print(f"sent {key} for query {qid}", flush=True)
        last = qid


if __name__ == "__main__":
    main()
