import pytest

from prefrl.core.schedule import PAPER_HALVING, LabelSchedule


@pytest.mark.parametrize("total,timesteps", [(700, 1_000_000), (50, 4096), (1400, 500_000), (7, 10)])
def test_schedule_spends_exactly_the_budget(total, timesteps):
    s = LabelSchedule(total, timesteps)
    assert s.initial == round(total * 0.25)
    assert s.due(0) == s.initial
    assert s.due(timesteps) == total
    assert s.due(timesteps * 3) == total
    dues = [s.due(t) for t in range(0, timesteps + 1, max(1, timesteps // 1000))]
    assert dues == sorted(dues)  # never asks for fewer than before
    assert max(dues) == total


def test_the_papers_rate_decays_like_two_million_over_t_plus_two_million():
    s = LabelSchedule(100_000, 10_000_000, initial_fraction=0.25, halving=PAPER_HALVING)
    early = s.due(1_000_000) - s.due(0)
    late = s.due(9_000_000) - s.due(8_000_000)
    # rate ratio between T=0.5M and T=8.5M is (8.5M + 2M) / (0.5M + 2M) = 4.2
    assert early / late == pytest.approx(4.2, rel=0.02)


@pytest.mark.parametrize("total,timesteps", [(0, 100), (-5, 100), (10, 0), (2, 100)])
def test_schedule_refuses_budgets_it_cannot_spend(total, timesteps):
    with pytest.raises(ValueError):
        LabelSchedule(total, timesteps)


def test_a_shorter_halving_time_asks_more_labels_early_and_still_spends_the_budget():
    paper = LabelSchedule(700, 500_000, halving=PAPER_HALVING)
    early = LabelSchedule(700, 500_000, halving=1e5)
    assert early.due(0) == paper.due(0) == 175  # the up-front share is the same
    assert early.due(100_000) - early.due(0) > 1.25 * (paper.due(100_000) - paper.due(0))
    assert early.due(500_000) == paper.due(500_000) == 700
    # rate ratio between T=50k and T=450k is (450k + h) / (50k + h) = 5.5/1.5 for h = 100k
    rate = lambda s, t: s.due(t + 10_000) - s.due(t)  # noqa: E731
    assert rate(early, 50_000) / rate(early, 450_000) == pytest.approx(5.5 / 1.5, rel=0.1)


@pytest.mark.parametrize("timesteps", [500_000, 50_000, 2_000_000])
def test_by_default_the_rate_halves_a_sixteenth_into_the_run_whatever_its_length(timesteps):
    s = LabelSchedule(700, timesteps)
    assert s.halving == timesteps / 16
    after_initial = s.total - s.initial
    # share of the post-initial labels asked by T: log(1 + T/h) / log(1 + timesteps/h); a fifth in -> log 4.2 / log 17
    fifth = (s.due(timesteps // 5) - s.initial) / after_initial
    assert fifth == pytest.approx(0.507, abs=0.01)
    assert s.due(timesteps) == 700


@pytest.mark.parametrize("halving", [0.0, -1e5])
def test_schedule_refuses_a_halving_time_that_is_not_positive(halving):
    with pytest.raises(ValueError, match="halving"):
        LabelSchedule(700, 500_000, halving=halving)


def test_a_run_records_its_label_halving_and_an_older_run_folder_keeps_the_papers(tmp_path):
    from prefrl.control import run_folder as rf
    from prefrl.control.config import TrainConfig
    from prefrl.control.trainer import Trainer

    trainer = Trainer(TrainConfig(env="HalfCheetah-v5", timesteps=80_000), tmp_path / "new")
    assert trainer.loop.schedule.halving == 5_000
    saved = rf.read_json(tmp_path / "new" / rf.CONFIG)
    assert saved["label_halving"] == 5_000  # a later change of the default leaves this run's schedule alone
    del saved["label_halving"], saved["version"]  # as written before the setting (and the format's version) existed
    assert TrainConfig.from_dict(saved).label_halving == 2e6
