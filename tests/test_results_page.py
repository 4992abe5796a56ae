"""docs/results.md and the README's results table are generated from the committed results, and kept so."""

import csv
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def results_page():
    spec = importlib.util.spec_from_file_location("results_page", ROOT / "benchmarks" / "results_page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_results_page_and_the_readme_table_match_the_committed_results():
    assert results_page().main(["--check"]) == 0, "run: python benchmarks/results_page.py"


def test_the_page_is_built_from_a_sweeps_files_alone(tmp_path):
    page = results_page()
    sweep = tmp_path / "results" / "tiny"
    sweep.mkdir(parents=True)
    (sweep / "about.json").write_text(json.dumps({
        "title": "A tiny sweep", "headline": True, "measures": "What it measures.", "command": "prefrl bench --envs A",
        "caveats": "None to speak of.", "envs": ["A-v0", "B-v0"], "reference": {"A-v0": [100, "a paper"]},
    }))  # fmt: skip
    row = {"env": "A-v0", "labels": 700, "teacher": "perfect", "selection": "disagreement", "seeds": 3, "steps": 1000,
           "score": 0.9512, "score_kind": "ratio of means", "iqm": 0.96, "iqm_ci_low": 0.8, "iqm_ci_high": 1.1,
           "preference_mean": 95.1, "preference_std": 4.0, "true_reward_mean": 100.0, "true_reward_std": 2.0}  # fmt: skip
    with (sweep / "scores.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    (sweep / "baselines.csv").write_text(
        "env,seeds,steps,true_reward_mean,true_reward_std,untrained\nA-v0,3,1000,100.0,2.0,1.0\nB-v0,0,1000,,,\n"
    )
    text = page.page(tmp_path / "results")
    assert "## A tiny sweep" in text and "prefrl bench --envs A" in text and "**Caveats.** None to speak of." in text
    assert "| A-v0 | 700 | 3 | 1,000 | 95.10 ± 4.00 | 100 ± 2.00 | 0.95 | 0.96 [0.80, 1.10] |" in text
    assert "| B-v0 | - | 0 | - | - | - | - | - |" in text  # a task not finished yet
    assert "| A-v0 | 3 | 1,000 | 100 ± 2.00 | 100 | a paper |" in text and "| B-v0 | 0 | 1,000 | - |" in text
    block = page.readme_block(tmp_path / "results")
    assert block.startswith(page.BEGIN) and block.endswith(page.END) and "A tiny sweep" in block
