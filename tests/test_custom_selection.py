"""A query-selection strategy of the user's own, from Python or named on the command line, is handed the recent
clips themselves and each ensemble member's predicted return of each, and picks the pairs asked about."""

import sqlite3
from contextlib import closing

import pytest

import prefrl
from prefrl.cli import main
from prefrl.control import run_folder as rf
from tests import custom_teachers

TINY = dict(
    labels=20, timesteps=1024, eval_freq=512, eval_episodes=1, progress=False, ppo={"n_steps": 256, "n_epochs": 1}
)
FLAGS = ["--timesteps", "1024", "--labels", "20", "--ppo", "n_steps=256", "--ppo", "n_epochs=1", "--eval-episodes", "1"]


def test_a_strategy_from_python_chooses_every_pair_after_the_first_fit(tmp_path):
    custom_teachers.SEEN.clear()
    config = prefrl.TrainConfig(env="Pendulum-v1", selection=custom_teachers.most_active_pairs, **TINY)
    assert config.selection == "tests.custom_teachers:most_active_pairs"
    prefrl.train(config, tmp_path / "run")
    asked = sum(n for *_, n in custom_teachers.SEEN)
    assert custom_teachers.SEEN and asked == 20 - 5  # all but the up-front labels (random: no model yet)
    clips, kind, shape, _ = custom_teachers.SEEN[0]
    assert kind == "Segment" and shape == (3, clips)  # the clips themselves, and 3 members' returns of each
    db = sqlite3.connect(tmp_path / "run" / rf.STORE)
    later = db.execute("SELECT item_a, item_b FROM queries WHERE id > 5").fetchall()
    assert len(later) == 15 and all(a != b for a, b in later)


def asked(selection, run):
    """The pairs a tiny Pendulum run with this selection asks, in order."""
    prefrl.train(prefrl.TrainConfig(env="Pendulum-v1", selection=selection, **TINY), run)
    with closing(sqlite3.connect(run / rf.STORE)) as db:
        return db.execute("SELECT item_a, item_b FROM queries ORDER BY id").fetchall()


def test_the_built_in_top_strategy_asks_what_the_same_strategy_written_by_hand_asks(tmp_path):
    by_hand = asked(custom_teachers.best_tenth_pairs, tmp_path / "by-hand")
    assert asked("top", tmp_path / "top") == by_hand and len(by_hand) == 20


def test_the_built_in_upper_disagreement_asks_what_the_same_strategy_written_by_hand_asks(tmp_path):
    by_hand = asked(custom_teachers.upper_half_disagreement_pairs, tmp_path / "by-hand")
    assert asked("upper-disagreement", tmp_path / "upper") == by_hand and len(by_hand) == 20
    assert asked("disagreement", tmp_path / "whole-pool") != by_hand


def test_a_strategy_named_on_the_command_line_must_be_named_again_to_resume(tmp_path, capsys):
    run = tmp_path / "run"
    spec = "tests.custom_teachers:most_active_pairs"
    assert main(["train", "--env", "Pendulum-v1", "--selection", spec, *FLAGS, "--out", str(run), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--timesteps", "2048"]) == 2
    err = capsys.readouterr().err.strip()
    assert f"add --selection {spec}" in err and "\n" not in err


def test_a_strategy_that_gives_malformed_pairs_stops_the_run_in_one_line(tmp_path, capsys):
    spec = "tests.custom_teachers:one_pair_only"
    assert (
        main(["train", "--env", "Pendulum-v1", "--selection", spec, *FLAGS, "--quiet", "--out", str(tmp_path / "r")])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert f"--selection {spec} gave (1, 2) int64 pairs; it must give" in err and "\n" not in err


@pytest.mark.parametrize("spec", ["nonsense", "tests.custom_teachers:Nobody"])
def test_an_unknown_strategy_is_refused_before_anything_is_written(tmp_path, capsys, spec):
    assert main(["train", "--env", "Pendulum-v1", "--selection", spec, "--out", str(tmp_path / "r")]) == 2
    assert "\n" not in capsys.readouterr().err.strip()
    assert not (tmp_path / "r").exists()
