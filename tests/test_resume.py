"""Continuing a run changes only its length and label budget; every other setting stays the run's own, a finished
run is left as it is, and a damaged record is named in one line."""

import json
import shutil

import pytest

from prefrl.cli import main
from prefrl.control import run_folder as rf

TINY = ["--env", "HalfCheetah-v5", "--labels", "8", "--timesteps", "512", "--ppo", "n_steps=256", "--ppo",
        "batch_size=64", "--ppo", "n_epochs=1", "--eval-episodes", "1", "--eval-freq", "256", "--quiet"]  # fmt: skip


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume") / "run"
    assert main(["train", *TINY, "--out", str(folder)]) == 0
    return folder


@pytest.fixture
def run(finished_run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(finished_run, copy)
    return copy


def snapshot(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file() and p.name != rf.LOCK}


def one_line_error(capsys, *args):
    """The error line; before it may come only the line announcing an extension that then could not start."""
    code = main(list(args))
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and lines[-1].startswith("prefrl: error: "), lines
    assert len(lines) == 1 or (len(lines) == 2 and lines[0].startswith("extending")), lines
    return lines[-1]


def test_resuming_a_finished_run_touches_nothing_and_says_how_to_extend_it(run, capsys):
    before = snapshot(run)
    assert main(["train", "--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert "is finished (512 steps, 8 labels)" in out and f"--resume {run} --timesteps 1024" in out
    assert snapshot(run) == before  # the reward model is not refitted, nothing is rewritten


def test_the_runs_own_command_line_with_resume_is_accepted(run, capsys):
    assert main(["train", *TINY, "--resume", str(run)]) == 0
    assert "is finished" in capsys.readouterr().out


def test_timesteps_extend_a_run_and_labels_raise_its_budget(run, capsys):
    assert main(["train", "--resume", str(run), "--timesteps", "1024", "--labels", "12", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "extending" in captured.err and "from 512 to 1024 steps" in captured.err
    assert "label budget" in captured.err and "from 8 to 12" in captured.err
    progress = json.loads((run / rf.PROGRESS).read_text())
    assert progress["timesteps"] == 1024 and progress["labels"] == 12
    config = json.loads((run / rf.CONFIG).read_text())
    assert config["timesteps"] == 1024 and config["labels"] == 12 and config["eval_freq"] == 256
    steps = [int(r["timesteps"]) for r in rf.read_metrics(run)]
    assert steps == sorted(set(steps)) and steps[-1] == 1024  # no duplicate rows, evaluations kept their spacing


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--seed", "3"], "started with --seed 0, not 3"),
        (["--members", "5"], "started with --members 3, not 5"),
        (["--reward-model", "lr=0.003"], "started with --reward-model lr 0.001, not 0.003"),
        (["--ppo", "n_epochs=3"], "started with --ppo n_epochs 1, not 3"),
        (["--selection", "random"], "started with --selection disagreement, not random"),
        (["--env", "Hopper-v5"], "trains HalfCheetah-v5, not Hopper-v5"),
        (["--timesteps", "256"], "already trained 512 steps"),
        (["--labels", "4"], "already has 8 labels"),
    ],
)
def test_a_setting_that_differs_from_the_runs_own_is_refused_naming_it(run, capsys, flags, needle):
    before = snapshot(run)
    err = one_line_error(capsys, "train", "--resume", str(run), *flags)
    assert needle in err
    assert snapshot(run) == before


@pytest.mark.parametrize(
    "name,content,needle",
    [
        (rf.PROGRESS, '{"timesteps": ', "progress.json is damaged (not JSON"),
        (rf.PROGRESS, '["timesteps"]', "progress.json is damaged (a JSON list"),
        (rf.PROGRESS, '{"timesteps": "many"}', "progress.json is damaged (timesteps is 'many'"),
        (rf.METRICS, "timesteps,labels\nmany,few\n", "metrics.csv is damaged"),
        (rf.METRICS, "\x00\x81\xfe garbage", "metrics.csv is damaged"),
        (rf.CONFIG, '{"env": ', "config.json is damaged (not JSON"),
        (rf.REWARD, "garbage", "reward_model.pt is unreadable"),
    ],
)
def test_a_damaged_record_is_named_in_one_line_with_what_to_do(run, capsys, name, content, needle):
    (run / name).write_bytes(content.encode("latin-1"))
    err = one_line_error(capsys, "train", "--resume", str(run), "--timesteps", "1024")
    assert needle in err and ("restore it" in err or "delete it" in err)
    if name != rf.CONFIG:  # a start that failed leaves the run's settings as they were
        assert json.loads((run / rf.CONFIG).read_text())["timesteps"] == 512


@pytest.mark.parametrize(
    "path,value,needle",
    [
        (["timesteps"], "many", "timesteps is 'many', not int"),
        (["seed"], 1.5, "seed is 1.5, not int"),
        (["reward_model", "members"], "x", "reward_model.members is 'x', not int"),
        (["ppo"], 5, "ppo is 5, not an object"),
    ],
)
def test_a_config_value_of_the_wrong_type_is_named_in_one_line(run, capsys, path, value, needle):
    config = json.loads((run / rf.CONFIG).read_text())
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    (run / rf.CONFIG).write_text(json.dumps(config))
    err = one_line_error(capsys, "train", "--resume", str(run))
    assert needle in err and "config.json" in err


def test_without_its_metrics_a_run_goes_on_from_its_checkpoint(run):
    (run / rf.METRICS).unlink()
    assert main(["train", "--resume", str(run), "--timesteps", "1024", "--quiet"]) == 0
    assert [int(r["timesteps"]) for r in rf.read_metrics(run)][-1] == 1024


def test_a_run_stopped_during_its_final_evaluation_is_not_finished_until_it_logs_it(run, capsys):
    rows = rf.read_metrics(run)
    (run / rf.METRICS).write_text("".join((run / rf.METRICS).read_text().splitlines(True)[:-1]))
    assert rf.read_metrics(run)[-1]["timesteps"] < 512  # checkpointed at its last step, the row not yet written
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    assert [int(r["timesteps"]) for r in rf.read_metrics(run)] == [int(r["timesteps"]) for r in rows]
    assert "nothing to do" not in capsys.readouterr().out
    assert main(["train", "--resume", str(run), "--quiet"]) == 0  # now it is finished
    assert "nothing to do" in capsys.readouterr().out
