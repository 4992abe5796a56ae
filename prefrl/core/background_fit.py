"""Reward-model fits in a separate process, so the policy keeps training while its reward model learns from new labels
(the paper's asynchronous reward trainer).

The worker owns the training copy of the ensemble (weights, Adam's moments, the bootstrap RNG, the L2 strengths);
the caller keeps its own copy for prediction and loads each fitted state at a point of its choosing. The worker runs
the same code on the same state as `RewardEnsemble.fit` in-process would, so a fit gives the same weights either
way: where a run installs each result decides its course, not how fast the worker was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from prefrl.core.comparisons import PreferenceDataset
from prefrl.core.reward import FitReport, RewardEnsemble
from prefrl.core.reward_config import RewardConfig
from prefrl.errors import PrefrlError


@dataclass
class FitResult:
    """A finished fit: the ensemble's state to load, what the fit did, and its compute time in the worker."""

    state: dict[str, torch.Tensor]
    report: FitReport
    seconds: float


def fit_and_normalise(
    ensemble: RewardEnsemble, items: np.ndarray, mask: np.ndarray, data: PreferenceDataset, features: np.ndarray
) -> FitReport:
    """One refit as the trainer defines it: fit on all labels, then normalise outputs over the recent steps."""
    report = ensemble.fit(items, mask, data)
    ensemble.update_output_stats(features)
    return report


def _to_numpy(state: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    # numpy arrays pickle by value; tensors sent through a pipe would go through torch's shared-memory reductions
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def _to_torch(state: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(np.asarray(v)) for k, v in state.items()}


def _serve(inbox: Connection, outbox: Connection) -> None:
    """The worker's loop: load a state, or fit and send the new state back, until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle; it stops the worker
    try:
        in_dim, config, seed, device, threads = inbox.recv()
        torch.set_num_threads(threads)
        ensemble = RewardEnsemble(in_dim, config, seed=seed, device=device)
        while True:
            message = inbox.recv()
            kind = message[0]
            if kind == "stop":
                return
            try:
                if kind == "load":
                    ensemble.load_state(_to_torch(message[1]))
                    outbox.send(("ok", None))
                elif kind == "fit":
                    start = time.perf_counter()
                    report = fit_and_normalise(ensemble, *message[1:])
                    outbox.send(("ok", (_to_numpy(ensemble.state()), report, time.perf_counter() - start)))
                else:
                    raise ValueError(f"unknown message {kind!r}")
            except Exception:
                outbox.send(("error", traceback.format_exc()))
    except (EOFError, OSError):  # the caller went away: nothing left to do
        return


HEAP_KEEPING = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(4 << 30)}
"""glibc malloc settings for the worker: keep tensors of up to 32 MiB on the heap and freed memory in the process.
A fit step allocates and frees activations of about 1 MB each; with glibc's defaults each comes back from the
kernel as fresh pages, and the fit runs measurably slower (docs/notes/wall-clock.md). Elsewhere than glibc these
names mean nothing and are ignored."""


def _child_env() -> dict[str, str]:
    """This environment, with prefrl importable even where the caller put it on sys.path by hand, and the
    allocator settings of `HEAP_KEEPING` unless the caller chose its own."""
    root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**HEAP_KEEPING, **os.environ, "PYTHONPATH": root if not path else root + os.pathsep + path}


class BackgroundFitter:
    """One worker process that fits a reward ensemble; one fit in flight at a time."""

    def __init__(self, in_dim: int, config: RewardConfig, seed: int, device: str = "cpu", threads: int = 1) -> None:
        # A fresh interpreter running this module: fork would copy the caller's torch threads and MuJoCo state, and
        # multiprocessing's spawn re-imports the caller's main script, which fails in scripts without a main guard.
        to_child, from_child = os.pipe(), os.pipe()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", __name__, str(to_child[0]), str(from_child[1])],
            pass_fds=(to_child[0], from_child[1]),
            stdin=subprocess.DEVNULL,
            env=_child_env(),
            process_group=0,  # out of reach of the terminal's Ctrl-C, even while it imports torch; the caller stops it
        )
        os.close(to_child[0])
        os.close(from_child[1])  # so recv() sees EOF if the worker dies
        self._send_conn = Connection(to_child[1], readable=False)
        self._recv_conn = Connection(from_child[0], writable=False)
        self.pending = False
        self._send((in_dim, config, seed, device, threads))

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        """Make the worker's ensemble this one (a resumed run's checkpoint)."""
        if self.pending:
            raise RuntimeError("a fit is in flight; take its result before loading another state")
        self._send(("load", _to_numpy(state)))
        self._receive()

    def submit(self, items: np.ndarray, mask: np.ndarray, data: PreferenceDataset, features: np.ndarray) -> None:
        """Start a fit on these labelled items, normalising outputs over `features` (recent steps) afterwards."""
        if self.pending:
            raise RuntimeError("a fit is in flight; take its result before submitting another")
        self._send(("fit", items, mask, data, features))
        self.pending = True

    def result(self) -> FitResult:
        """Wait for the fit in flight and return it."""
        if not self.pending:
            raise RuntimeError("no fit in flight")
        self.pending = False
        state, report, seconds = self._receive()
        return FitResult(_to_torch(state), report, seconds)

    def _send(self, message: tuple) -> None:
        try:
            self._send_conn.send(message)
        except OSError as exc:  # BrokenPipeError: the worker is gone
            raise self._exited() from exc

    def _receive(self) -> Any:
        try:
            status, payload = self._recv_conn.recv()
        except (EOFError, OSError) as exc:
            raise self._exited() from exc
        if status == "error":
            raise RuntimeError(f"reward-model fit failed in the worker process:\n{payload}")
        return payload

    def _exited(self) -> PrefrlError:
        try:
            code = self._proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        return PrefrlError(
            f"the reward-model worker process exited (exit code {code}), so training stopped; the "
            "labels are saved: continue from the last checkpoint with `prefrl train --resume RUN` (a run stopped "
            "before its first checkpoint starts afresh)"
        )

    def close(self) -> None:
        """Stop the worker (a fit in flight is abandoned, without waiting for it)."""
        if self._proc.poll() is None:
            if self.pending:
                self._proc.terminate()
            else:
                try:
                    self._send_conn.send(("stop",))
                except OSError:
                    pass
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._send_conn.close()
        self._recv_conn.close()
        self.pending = False


if __name__ == "__main__":  # the worker: python -m prefrl.core.background_fit READ_FD WRITE_FD
    _serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False))
