"""A run killed with SIGKILL at random moments and resumed each time ends complete, with no label lost or
duplicated and one metrics row per evaluation (benchmarks/fault_injection.py runs the same with 30 kills)."""

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "fault_injection", Path(__file__).parents[1] / "benchmarks" / "fault_injection.py"
)
fault_injection = importlib.util.module_from_spec(_spec)
sys.modules["fault_injection"] = fault_injection  # its dataclass looks its module up there
_spec.loader.exec_module(fault_injection)


def test_three_kills_at_random_moments_lose_nothing_and_the_run_ends_complete(tmp_path):
    outcome = fault_injection.kill_and_resume(tmp_path / "run", kills=3, seed=1, earliest=1.0, latest=9.0)
    assert outcome.problems == []
    assert outcome.kills == 3
    assert outcome.lost_labels == 0 and outcome.duplicate_labels == 0
    assert outcome.duplicate_rows == 0
    assert outcome.finished and outcome.steps == fault_injection.TIMESTEPS
    assert outcome.labels == fault_injection.LABELS
