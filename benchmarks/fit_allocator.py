"""The reward-model worker's fit with and without its glibc heap settings (`background_fit.HEAP_KEEPING`).

    python benchmarks/fit_allocator.py            # about a minute on 2 cores

A HalfCheetah-sized refit (700 labels between 1,400 clips of 30 steps, 20 passes: 140 gradient steps) in a real
`BackgroundFitter` worker, four times each way, alternating. Prints the worker's own fit seconds and page faults per
fit, and checks that both ways give the same weights bit for bit. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import hashlib
import statistics

import numpy as np

from prefrl.core import background_fit
from prefrl.core.background_fit import BackgroundFitter
from prefrl.core.comparisons import PreferenceDataset
from prefrl.core.reward_config import RewardConfig


def worker_faults(fitter: BackgroundFitter) -> int:
    """Minor page faults the worker process has taken so far (field 10 of /proc/PID/stat)."""
    stat = open(f"/proc/{fitter._proc.pid}/stat").read()
    return int(stat.rsplit(")", 1)[1].split()[7])


def one_way(heap: dict[str, str], fits: int = 3) -> tuple[list[float], list[int], str]:
    background_fit.HEAP_KEEPING = heap
    rng = np.random.default_rng(0)
    items = rng.normal(size=(1400, 30, 23)).astype(np.float32)
    mask = np.ones((1400, 30), np.float32)
    data = PreferenceDataset(rng.integers(0, 1400, size=(700, 2)), rng.integers(0, 2, size=700).astype(np.float32))
    features = items[:500].reshape(-1, 23)
    fitter = BackgroundFitter(23, RewardConfig(), seed=0)
    try:
        fitter.submit(items, mask, data, features)  # the first fit (100 passes); warm-started refits follow
        fitter.result()
        seconds, faults = [], []
        for _ in range(fits):
            before = worker_faults(fitter)
            fitter.submit(items, mask, data, features)
            result = fitter.result()
            seconds.append(result.seconds)
            faults.append(worker_faults(fitter) - before)
        digest = hashlib.sha1(b"".join(v.numpy().tobytes() for v in result.state.values())).hexdigest()
    finally:
        fitter.close()
    return seconds, faults, digest


def main() -> None:
    kept = dict(background_fit.HEAP_KEEPING)
    rows: dict[str, tuple[list[float], list[int], set[str]]] = {
        "glibc defaults": ([], [], set()),
        "heap kept": ([], [], set()),
    }
    for _ in range(4):
        for name, heap in (("glibc defaults", {}), ("heap kept", kept)):
            seconds, faults, digest = one_way(heap)
            rows[name][0].extend(seconds)
            rows[name][1].extend(faults)
            rows[name][2].add(digest)
    print("| worker allocator | refit (s), median | range | page faults per refit, median |")
    print("| --- | --- | --- | --- |")
    for name, (seconds, faults, _) in rows.items():
        print(
            f"| {name} | {statistics.median(seconds):.3f} | {min(seconds):.3f}-{max(seconds):.3f} | "
            f"{statistics.median(faults):,.0f} |"
        )
    digests = set.union(*(d for _, _, d in rows.values()))
    print("same weights both ways:", "yes" if len(digests) == 1 else f"NO ({len(digests)} different)")


if __name__ == "__main__":
    main()
