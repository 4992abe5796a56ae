"""`prefrl bench`: a sweep with baselines that resumes, and a report with ratios and figures."""

import csv
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from prefrl.bench.report import final_return, reward_time_share
from prefrl.bench.sweep import Cell, SweepConfig, progress_of

ROOT = Path(__file__).resolve().parents[1]


def bench(tmp_path, *extra):
    cmd = [sys.executable, "-m", "prefrl", "bench", "--envs", "HalfCheetah-v5", "--seeds", "0",
           "--labels", "20", "--teachers", "perfect", "mistake", "--timesteps", "512", "--workers", "2", "--eval-episodes", "1",
           "--ppo", "n_steps=256", "--ppo", "n_epochs=1",
           "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results"), *extra]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_every_cell_has_a_true_reward_baseline_for_its_env_and_seed():
    config = SweepConfig(envs=["A", "B"], seeds=[0, 1], labels=[350, 700], teachers=["perfect", "mistake"])
    cells = config.cells()
    assert len(cells) == 2 * 2 * (1 + 2 * 2)
    for cell in cells:
        assert Cell(cell.env, cell.seed) in cells
    assert len({c.folder(Path("w")) for c in cells}) == len(cells)  # one run folder each


def test_sweep_settings_reach_every_cell_and_the_baseline_ignores_those_it_has_no_use_for():
    config = SweepConfig(envs=["Hopper-v5"], ppo={"n_epochs": 5}, settings={"clip_seconds": 2.0})
    baseline, preference = (config.train_config(c) for c in config.cells())
    assert baseline.ppo.n_epochs == preference.ppo.n_epochs == 5  # over Hopper's preset
    assert baseline.ppo.n_steps == preference.ppo.n_steps == 2048
    assert preference.segment_length == 250 and baseline.segment_length is None  # 2 s of Hopper's 8-ms steps
    assert (baseline.reward, preference.reward, preference.labels) == ("true", "learned", 700)


def _ran(config: SweepConfig, folder: Path) -> None:
    """Run folders holding the config.json each cell's run writes (what `prefrl train --config` starts from)."""
    import json
    from dataclasses import asdict

    for cell in config.cells():
        cell.folder(folder).mkdir(parents=True)
        (cell.folder(folder) / "config.json").write_text(json.dumps(asdict(config.train_config(cell))))


@pytest.mark.parametrize(
    ("flag", "field", "default", "refused", "why"),
    [
        ("--segment-length", "segment_length", 188, "0", "--segment-length counts steps per clip"),
        ("--buffer-size", "buffer_size", 2000, "1", "--buffer-size counts the clips"),
        ("--policy-reset", "policy_reset", 100000, "-1", "a reset must come before --timesteps (500000)"),
    ],
)
def test_bench_gives_its_clip_length_query_buffer_and_policy_reset_to_the_preference_cells(
    tmp_path, capsys, flag, field, default, refused, why
):
    import json

    from prefrl.cli import main

    _ran(SweepConfig(envs=["Hopper-v5"], settings={field: 125}), tmp_path)
    preference = SweepConfig(envs=["Hopper-v5"]).cells()[1]
    assert json.loads((preference.folder(tmp_path) / "config.json").read_text())[field] == 125
    sweep = ["bench", "--envs", "Hopper-v5", "--seeds", "0", "--work", str(tmp_path), "--results", str(tmp_path / "r")]
    assert main([*sweep, flag, "125", "--report-only"]) == 0
    assert "warning" not in capsys.readouterr().err  # the flag reaches the cells as they ran
    assert main([*sweep, "--report-only"]) == 0
    assert f"{field}=125 (this sweep: {default})" in capsys.readouterr().err  # a sweep without it would mix them
    assert main([*sweep, flag, refused]) == 2
    assert why in capsys.readouterr().err


def test_bench_gives_a_fresh_model_at_the_reset_to_the_preference_cells(tmp_path, capsys):
    from prefrl.cli import main

    _ran(SweepConfig(envs=["Hopper-v5"], settings={"fresh_model_at_reset": True}), tmp_path)
    sweep = ["bench", "--envs", "Hopper-v5", "--seeds", "0", "--work", str(tmp_path), "--results", str(tmp_path / "r")]
    assert main([*sweep, "--fresh-model-at-reset", "--report-only"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main([*sweep, "--report-only"]) == 0
    assert "fresh_model_at_reset=True (this sweep: False)" in capsys.readouterr().err


def test_bench_gives_the_reward_input_to_the_preference_cells(tmp_path, capsys):
    from prefrl.cli import main

    _ran(SweepConfig(envs=["Hopper-v5"], settings={"reward_input": "transition"}), tmp_path)
    sweep = ["bench", "--envs", "Hopper-v5", "--seeds", "0", "--work", str(tmp_path), "--results", str(tmp_path / "r")]
    assert main([*sweep, "--reward-input", "transition", "--report-only"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert main([*sweep, "--report-only"]) == 0
    assert "reward_input='transition' (this sweep: 'state-action')" in capsys.readouterr().err


def test_a_changed_clip_length_makes_the_preference_cells_stale_and_leaves_the_baseline_reusable(tmp_path):
    from prefrl.bench.sweep import mismatched_cells

    before = SweepConfig(envs=["Hopper-v5"], work=tmp_path)
    _ran(before, tmp_path)
    assert mismatched_cells(before) == []
    after = SweepConfig(envs=["Hopper-v5"], work=tmp_path, settings={"clip_seconds": 1.0})
    [(cell, diffs)] = mismatched_cells(after)
    assert not cell.baseline
    # Hopper's 1.5 s against the 1 s this sweep asks for, in seconds and in the steps they resolve to
    assert diffs == ["clip_seconds=1.5 (this sweep: 1.0)", "segment_length=188 (this sweep: 125)"]


def test_a_cell_run_without_the_refit_cap_is_stale_only_on_a_budget_where_the_cap_binds(tmp_path):
    from prefrl.bench.sweep import mismatched_cells

    uncapped = {"refit_max_steps": None}
    _ran(SweepConfig(envs=["Hopper-v5"], labels=[350, 700, 1400], work=tmp_path, reward_model=uncapped), tmp_path)
    [(cell, diffs)] = mismatched_cells(SweepConfig(envs=["Hopper-v5"], labels=[350, 700, 1400], work=tmp_path))
    assert cell.labels == 1400 and diffs == ["reward_model.refit_max_steps=None (this sweep: 160)"]


def test_a_cell_starts_from_its_settings_file_and_writes_the_same_config_a_command_line_run_would(tmp_path):
    import json

    from prefrl.bench.sweep import train_command
    from prefrl.cli import main

    config = SweepConfig(envs=["HalfCheetah-v5"], labels=[12], timesteps=512, work=tmp_path / "work",
                         ppo={"n_steps": 256, "n_epochs": 1}, settings={"eval_episodes": 1})  # fmt: skip
    cell = config.cells()[1]
    command = train_command(config, cell)
    assert command[command.index("--config") + 1].endswith("HalfCheetah-v5-12-perfect-disagreement-s0.json")
    assert main(command[3:]) == 0  # what the cell's process runs: `prefrl train --quiet --config FILE --out DIR`
    flags = ["train", "--env", "HalfCheetah-v5", "--labels", "12", "--timesteps", "512", "--ppo", "n_steps=256",
             "--ppo", "n_epochs=1", "--eval-episodes", "1", "--quiet", "--out", str(tmp_path / "cli")]  # fmt: skip
    assert main(flags) == 0
    by_cell = json.loads((cell.folder(config.work) / "config.json").read_text())
    by_flags = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert by_cell == by_flags
    metrics = lambda run: (run / "metrics.csv").read_text().splitlines()  # noqa: E731
    assert [r.split(",")[:5] for r in metrics(cell.folder(config.work))] == [
        r.split(",")[:5] for r in metrics(tmp_path / "cli")
    ]  # the same run: labels, returns and accuracies alike


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        (["--seed", "3"], "--seed cannot be given with --config"),
        (["--env", "Hopper-v5"], "trains HalfCheetah-v5"),
    ],
)
def test_a_settings_file_is_the_one_source_of_a_runs_settings(tmp_path, capsys, extra, why):
    import json
    from dataclasses import asdict

    from prefrl.cli import main

    path = tmp_path / "run.json"
    path.write_text(json.dumps(asdict(SweepConfig().train_config(Cell("HalfCheetah-v5", 0)))))
    assert main(["train", "--config", str(path), *extra, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prefrl: error:") and "\n" not in err and why in err
    assert main(["train", "--config", str(tmp_path / "missing.json")]) == 2
    assert "is not a file" in capsys.readouterr().err


def test_final_return_averages_the_last_three_evaluations_within_the_horizon():
    rows = [{"timesteps": t, "true_return_mean": r} for t, r in [(0, 0.0), (10, 3.0), (20, 6.0), (30, 9.0), (40, 99)]]
    assert final_return(rows, horizon=30) == 6.0


def test_the_learned_rewards_share_of_a_runs_time_is_its_refits_and_per_step_work_over_the_wall_time():
    assert reward_time_share({"refit_seconds": 30.0, "reward_step_seconds": 10.0, "wall_time": 200.0}) == 0.2
    assert math.isnan(reward_time_share({"wall_time": 200.0}))  # a run from before these were logged


def test_a_sweep_stopped_part_way_resumes_and_reports(tmp_path):
    first = bench(tmp_path, "--minutes", "0.1")  # stops (resumably) before all three cells are done
    assert first.returncode == 0, first.stderr[-2000:]
    second = bench(tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    config = SweepConfig(envs=["HalfCheetah-v5"], seeds=[0], labels=[20], teachers=["perfect", "mistake"],
                         work=tmp_path / "work")  # fmt: skip
    assert all(progress_of(c.folder(config.work)) >= 512 for c in config.cells())
    third = bench(tmp_path)  # nothing left to run
    assert "3 cells: 3 finished, 0 to run" in third.stdout
    results = tmp_path / "results"
    summary = (results / "summary.md").read_text()
    shutil.move(tmp_path / "work", tmp_path / "gone")  # another sitting, another machine: only the results travel
    fourth = bench(tmp_path)
    assert "3 cells: 3 finished, 0 to run" in fourth.stdout, fourth.stderr[-2000:]
    assert (results / "summary.md").read_text() == summary  # reported from what results.csv and configs/ keep
    assert len(list((results / "configs").rglob("*.json"))) == 3
    shutil.rmtree(tmp_path / "work", ignore_errors=True)
    shutil.move(tmp_path / "gone", tmp_path / "work")
    with (results / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["teacher"], r["reward"]) for r in rows} == {
        ("-", "true"),
        ("perfect", "learned"),
        ("mistake", "learned"),
    }
    summary = (results / "summary.md").read_text()
    assert "| HalfCheetah-v5 | 20 | mistake | disagreement | 1 |" in summary
    row = next(line for line in summary.splitlines() if "| 20 | mistake |" in line)
    share = float(row.rstrip(" |").rsplit("|", 1)[1].strip().rstrip("%"))  # the learned reward's share of the time
    assert 0 < share < 100
    assert (results / "curves.png").stat().st_size > 10_000 and (results / "teachers.png").exists()

    # the same cells asked for with another setting: refused in one line, never resumed or reported as the new one
    before = [(c.folder(config.work) / "metrics.csv").read_text() for c in config.cells()]
    changed = bench(tmp_path, "--label-halving", "100")
    assert changed.returncode == 2 and "Traceback" not in changed.stderr
    (line,) = changed.stderr.strip().splitlines()
    assert "20-perfect-disagreement-s0 (and 1 more cells) ran with label_halving=32.0 (this sweep: 100.0)" in line
    assert "new --work" in line  # the baseline, which has no label schedule, is not among them
    assert [(c.folder(config.work) / "metrics.csv").read_text() for c in config.cells()] == before
    report = bench(tmp_path, "--label-halving", "100", "--report-only")
    assert report.returncode == 0 and "warning" in report.stderr and "the report mixes settings" in report.stderr


def test_the_ray_backend_runs_the_same_cells_on_a_local_ray_instance(tmp_path):
    import json

    import pytest

    pytest.importorskip("ray")
    config = SweepConfig(envs=["HalfCheetah-v5"], seeds=[0], labels=[20], timesteps=512, work=tmp_path / "work",
                         settings={"eval_episodes": 1}, ppo={"n_steps": 256, "n_epochs": 1})  # fmt: skip
    baseline, cell = config.cells()
    kept = tmp_path / "results" / "configs" / "HalfCheetah-v5" / "true-s0.json"  # the baseline, finished elsewhere
    kept.parent.mkdir(parents=True)
    kept.write_text(json.dumps(config.train_config(baseline).to_dict()))
    rows = [
        f"HalfCheetah-v5,0,0,-,-,true,{t},0,{r},0.0,,,0,1.0" for t, r in ((0, -300.0), (256, -200.0), (512, -100.0))
    ]
    header = "env,seed,budget,teacher,selection,reward,timesteps,labels,true_return_mean,true_return_std,"
    header += "reward_model_accuracy,train_true_return,pretrain_steps,wall_time"
    (tmp_path / "results" / "results.csv").write_text("\n".join([header, *rows]) + "\n")
    result = bench(tmp_path, "--backend", "ray", "--teachers", "perfect")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 cells: 1 finished, 1 to run on Ray" in result.stdout  # one tiny cell on Ray
    assert progress_of(cell.folder(config.work)) >= 512 and not baseline.folder(config.work).exists()
    assert "| HalfCheetah-v5 | 20 | perfect | disagreement | 1 |" in (tmp_path / "results" / "summary.md").read_text()


def test_a_cell_whose_config_cannot_be_read_is_named_not_a_traceback(tmp_path):
    from prefrl.bench.sweep import mismatched_cells

    config = SweepConfig(envs=["HalfCheetah-v5"], seeds=[0], labels=[20], work=tmp_path)
    folder = config.cells()[1].folder(tmp_path)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"env": "HalfCheetah-v5", "labels": ')
    ((cell, diffs),) = mismatched_cells(config)
    assert cell == config.cells()[1] and "config.json is damaged" in diffs[0]


def test_summary_spread_is_the_sample_std_over_seeds_and_absent_for_one_seed():
    from prefrl.bench.report import _mean_sd

    assert _mean_sd([1.0, 2.0, 3.0], 2) == "2.00 ± 1.00"  # n - 1: the population std would be 0.82
    assert _mean_sd([3265.0], 0) == "3,265 ± -"
    assert _mean_sd([3265.0, 3000.0]) == "3,132 ± 187"  # returns in the hundreds or more: whole numbers
    assert _mean_sd([1.73, 1.55]) == "1.64 ± 0.13"  # small returns (the backflip task) keep two decimals


def _write_runs(tmp_path, finals: dict, untrained: float | None = None, envs=("Walker2d-v5",), seeds=(0, 1)):
    """Run folders whose evaluations all return the given finals (after `untrained` at step 0, if given)."""
    from prefrl.bench.report import write_report
    from prefrl.control.run_folder import append_metrics

    config = SweepConfig(envs=list(envs), seeds=list(seeds), timesteps=1000, work=tmp_path / "work")
    for cell, final in finals.items():
        cell.folder(config.work).mkdir(parents=True)
        for t in (0, 250, 500, 750, 1000):  # the last three make the final return; step 0 is the untrained policy
            value = untrained if t == 0 and untrained is not None else final
            append_metrics(cell.folder(config.work), {"timesteps": t, "labels": cell.labels,
                           "true_return_mean": value, "true_return_std": 0.0, "wall_time": 10.0})  # fmt: skip
    return write_report(config, tmp_path / "results", "prefrl bench ...")


def _summary_row(tmp_path, finals: dict, untrained: float | None = None) -> dict[str, str]:
    """The summary row of the 700-label variant on Walker2d-v5, by column name."""
    summary = _write_runs(tmp_path, finals, untrained)
    header = next(line for line in summary.splitlines() if line.startswith("| env |"))
    row = next(line for line in summary.splitlines() if line.startswith("| Walker2d-v5 | 700 |"))
    cells = lambda line: [c.strip() for c in line.strip().strip("|").split("|")]  # noqa: E731
    return dict(zip(cells(header), cells(row)))


def test_a_tasks_score_is_the_ratio_of_the_means_not_the_mean_of_per_seed_ratios(tmp_path):
    """A seed with a collapsed baseline would inflate the mean of per-seed ratios (10.0 and 0.75 here: 5.38)."""
    row = _summary_row(tmp_path, {Cell("Walker2d-v5", 0): 500.0, Cell("Walker2d-v5", 0, 700): 5000.0,
                                  Cell("Walker2d-v5", 1): 4000.0, Cell("Walker2d-v5", 1, 700): 3000.0})  # fmt: skip
    assert row["score"] == "1.78"  # 4,000 / 2,250
    assert row["IQM [95% CI]"] == "1.78 [1.33, 2.22]"  # seeds 5,000 and 3,000 against the mean baseline
    assert row["preference PPO"] == "4,000 ± 1,414" and row["true-reward PPO"] == "2,250 ± 2,475"


def test_where_true_reward_returns_are_negative_the_score_is_normalised_between_untrained_and_true_reward(tmp_path):
    row = _summary_row(tmp_path, {Cell("Walker2d-v5", 0): -5.0, Cell("Walker2d-v5", 0, 700): -10.0,
                                  Cell("Walker2d-v5", 1): -5.0, Cell("Walker2d-v5", 1, 700): -8.0},
                       untrained=-15.0)  # fmt: skip
    assert row["untrained"] == "-15.00"
    assert row["score"] == "0.60 (normalised)"  # seeds at 0.5 and 0.7 of the way from -15 to -5


def test_a_baseline_mean_of_zero_gives_no_score_rather_than_infinity(tmp_path):
    row = _summary_row(tmp_path, {Cell("Walker2d-v5", 0): 0.0, Cell("Walker2d-v5", 0, 700): 1.5,
                                  Cell("Walker2d-v5", 1): 0.0, Cell("Walker2d-v5", 1, 700): 0.5},
                       untrained=0.0)  # fmt: skip
    assert row["score"] == "nan (normalised)"  # true-reward PPO no better than untrained: nothing to scale by


def test_the_interquartile_mean_drops_the_best_and_worst_quarter_and_its_interval_spans_the_seeds():
    from prefrl.bench.scores import iqm_interval

    iqm, low, high = iqm_interval(np.array([[0.0], [1.0], [2.0], [10.0]]))
    assert iqm == 1.5  # the mean of 1 and 2
    assert 0.0 <= low < iqm < high <= 10.0
    assert iqm_interval(np.array([[0.0], [1.0], [2.0], [10.0]])) == (iqm, low, high)  # the same every time
    one = iqm_interval(np.array([[0.7]]))
    assert one[0] == 0.7 and math.isnan(one[1]) and math.isnan(one[2])  # one seed: no interval


def test_the_interquartile_interval_is_the_same_whatever_numpys_global_generator_holds_and_leaves_it_alone():
    from prefrl.bench.scores import iqm_interval

    scores = np.array([[1.05], [1.11], [1.03], [0.22], [1.12]])  # one seed far below the rest: bounds move with draws
    intervals = set()
    for outside in range(20):
        np.random.seed(outside)
        intervals.add(iqm_interval(scores))
        assert np.random.random() == np.random.RandomState(outside).random()  # the caller's draws are untouched
    assert len(intervals) == 1


def test_the_summary_gives_the_mean_score_over_tasks_and_a_csv_of_every_tasks_score(tmp_path):
    finals = {Cell("Walker2d-v5", 0): 1000.0, Cell("Walker2d-v5", 0, 700): 900.0,
              Cell("Reacher-v5", 0): -5.0, Cell("Reacher-v5", 0, 700): -5.0}  # fmt: skip
    summary = _write_runs(tmp_path, finals, untrained=-40.0, envs=("Walker2d-v5", "Reacher-v5"), seeds=(0,))
    # Walker2d: 900 / 1,000; Reacher: normalised from -40 (the step-0 evaluations) to -5, where it ends
    assert "Over 2 tasks, 700 perfect labels (disagreement): mean score 0.95, lowest 0.90" in summary
    with (tmp_path / "results" / "scores.csv").open() as f:
        rows = {r["env"]: r for r in csv.DictReader(f)}
    assert rows["Reacher-v5"]["score_kind"] == "normalised" and float(rows["Reacher-v5"]["score"]) == 1.0
    assert rows["Walker2d-v5"]["score_kind"] == "ratio of means" and float(rows["Walker2d-v5"]["score"]) == 0.9
    assert rows["Walker2d-v5"]["steps"] == "1000"


def test_each_env_may_train_for_its_own_number_of_steps():
    config = SweepConfig(envs=["Ant-v5", "Reacher-v5"], timesteps=1_000_000, env_timesteps={"Reacher-v5": 300_000})
    steps = {c.env: config.train_config(c).timesteps for c in config.cells()}
    assert steps == {"Ant-v5": 1_000_000, "Reacher-v5": 300_000}
    assert config.total_steps() == 2 * (1_000_000 + 300_000)


@pytest.mark.parametrize(
    ("given", "why"),
    [
        (["1000", "Ant-v5=x"], "give a whole number of steps"),
        (["1000", "Hoper-v5=500"], "unknown environment id 'Hoper-v5'; did you mean Hopper-v5"),
        (["1000", "2000"], "give one default budget"),
        (["Ant-v5=-5"], "steps must be positive"),
        (["Ant-v5=500"], "ENV=STEPS for every env"),
    ],
)
def test_bench_refuses_step_budgets_it_cannot_use_in_one_line(capsys, tmp_path, given, why):
    from prefrl.cli import main

    code = main(["bench", "--envs", "Ant-v5", "Reacher-v5", "--timesteps", *given, "--work", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2 and why in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "w").exists()


def test_a_published_sweeps_budgets_may_name_envs_left_out_of_a_trimmed_envs_list(capsys, tmp_path):
    from prefrl.cli import main

    given = ["1000000", "Reacher-v5=300000", "HalfCheetah-v5=500000"]
    code = main(["bench", "--envs", "HalfCheetah-v5", "--timesteps", *given, "--work", str(tmp_path / "w"),
                 "--results", str(tmp_path / "r"), "--report-only"])  # fmt: skip
    assert code == 0
    assert "--timesteps Reacher-v5=300000: not among --envs, left unused" in capsys.readouterr().err


def test_a_sweep_whose_cells_failed_exits_non_zero_naming_their_logs(tmp_path):
    env = "tests.tiny_envs:cut_short_without_a_limit"  # no clip can be cut from it: the preference cell stops
    sweep = ["bench", "--envs", env, "--seeds", "0", "--labels", "20", "--timesteps", "512", "--ppo", "n_steps=256",
             "--eval-episodes", "1", "--work", str(tmp_path / "w"), "--results", str(tmp_path / "r")]  # fmt: skip
    proc = subprocess.run([sys.executable, "-m", "prefrl", *sweep], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "1 of 2 cells failed; see" in proc.stderr and f"{env}-20-perfect-disagreement-s0.log" in proc.stderr


def test_a_cell_stopped_during_its_final_evaluation_is_resumed_to_log_it(tmp_path):
    from prefrl.bench.sweep import unfinished
    from prefrl.control import run_folder as rf

    config = SweepConfig(envs=["HalfCheetah-v5"], seeds=[0], labels=[20], work=tmp_path / "work")
    baseline, cell = config.cells()
    for c in (baseline, cell):  # both checkpointed at their last step...
        c.folder(config.work).mkdir(parents=True)
        rf.write_json(c.folder(config.work) / rf.PROGRESS, {"timesteps": config.steps(c.env), "labels": 0})
    rf.append_metrics(baseline.folder(config.work), {"timesteps": config.steps(baseline.env)})
    rf.append_metrics(cell.folder(config.work), {"timesteps": 0})  # ...but only the baseline logged its last row
    assert unfinished(config) == [cell]
