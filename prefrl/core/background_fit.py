"""Reward-model fits in a separate process, so the policy keeps training while its reward model learns from new labels
(the paper's asynchronous reward trainer).

The worker owns the training copy of the ensemble (weights, Adam's moments, the bootstrap RNG, the L2 strengths);
the caller keeps its own copy for prediction and loads each fitted state at a point of its choosing. The worker runs
the same code on the same state as `RewardEnsemble.fit` in-process would, so a fit gives the same weights either
way: where a run installs each result decides its course, not how fast the worker was.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import torch

from prefrl.core.comparisons import PreferenceDataset
from prefrl.core.reward import FitReport, RewardConfig, RewardEnsemble
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


def _serve(conn: Connection, in_dim: int, config: RewardConfig, seed: int, device: str, threads: int) -> None:
    """The worker's loop: load a state, or fit and send the new state back, until told to stop."""
    torch.set_num_threads(threads)
    ensemble = RewardEnsemble(in_dim, config, seed=seed, device=device)
    try:
        while True:
            message = conn.recv()
            kind = message[0]
            if kind == "stop":
                return
            try:
                if kind == "load":
                    ensemble.load_state(_to_torch(message[1]))
                    conn.send(("ok", None))
                elif kind == "fit":
                    start = time.perf_counter()
                    report = fit_and_normalise(ensemble, *message[1:])
                    conn.send(("ok", (_to_numpy(ensemble.state()), report, time.perf_counter() - start)))
                else:
                    raise ValueError(f"unknown message {kind!r}")
            except Exception:
                conn.send(("error", traceback.format_exc()))
    except (EOFError, KeyboardInterrupt):  # the caller went away or was interrupted: nothing left to do
        return


class BackgroundFitter:
    """One worker process that fits a reward ensemble; one fit in flight at a time."""

    def __init__(self, in_dim: int, config: RewardConfig, seed: int, device: str = "cpu", threads: int = 1) -> None:
        ctx = get_context("spawn")  # fork would copy the caller's torch/OpenMP threads and MuJoCo state
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(
            target=_serve, args=(child, in_dim, config, seed, device, threads), daemon=True, name="prefrl-reward-fit"
        )
        self._proc.start()
        child.close()  # so recv() sees EOF if the worker dies
        self.pending = False

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
            self._conn.send(message)
        except OSError as exc:  # BrokenPipeError: the worker is gone
            raise self._exited() from exc

    def _receive(self) -> Any:
        try:
            status, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            raise self._exited() from exc
        if status == "error":
            raise RuntimeError(f"reward-model fit failed in the worker process:\n{payload}")
        return payload

    def _exited(self) -> PrefrlError:
        self._proc.join(timeout=5)
        return PrefrlError(
            f"the reward-model worker process exited (exit code {self._proc.exitcode}), so training stopped; the "
            "labels are saved: continue from the last checkpoint with `prefrl train --resume RUN`"
        )

    def close(self) -> None:
        """Stop the worker (a fit in flight is abandoned)."""
        if self._proc.is_alive():
            try:
                self._conn.send(("stop",))
            except (BrokenPipeError, OSError):
                pass
            self._proc.join(timeout=5)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout=5)
        self._conn.close()
        self.pending = False
