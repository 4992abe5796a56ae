"""`prefrl text train`: cycles of SFT -> K completions -> rankings -> reward model -> PPO, in one resumable run folder."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
import math
from dataclasses import replace

import pytest

from prefrl.cli import main
from prefrl.core.records import read_rows
from prefrl.core.store import LabelStore
from prefrl.text.lm_training import PretrainConfig, SFTConfig
from prefrl.text.model import ModelConfig
from prefrl.text.ppo import TextPPOConfig
from prefrl.text.reward_model import TextRewardConfig
from prefrl.text.trainer import TextTrainConfig, TextTrainer

K, PROMPTS = 3, 6


def tiny_config(out, **overrides) -> TextTrainConfig:
    return replace(
        TextTrainConfig(
            out=str(out),
            cycles=2,
            prompts_per_cycle=PROMPTS,
            k=K,
            ppo_iterations=2,
            eval_prompts=8,
            normalise_samples=8,
            pretrain=PretrainConfig(
                documents=400,
                max_steps=30,
                minutes=1.0,
                batch_size=8,
                eval_every=15,
                model=ModelConfig(layers=2, width=32, heads=2, context=96, vocab_size=300),
            ),
            sft=SFTConfig(demonstrations=64, max_steps=8, batch_size=8),
            reward=TextRewardConfig(heads=2, epochs=1, groups_per_batch=4),
            ppo=TextPPOConfig(batch_size=8, minibatch_size=4, epochs=1, max_new_tokens=16),
        ),
        **overrides,
    )


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("text") / "run"
    rows = TextTrainer(tiny_config(out), progress=False).run()
    return out, rows


def test_a_run_folder_holds_models_labels_metrics_and_the_gold_versus_proxy_plot(finished_run):
    out, rows = finished_run
    for name in ("config.json", "labels.sqlite", "metrics.csv", "cycles.csv", "gold_vs_proxy.png"):
        assert (out / name).is_file(), name
    for folder in ("base", "sft", "policy", "reward_model/trunk"):
        assert list((out / folder).glob("*.safetensors")), folder
    assert (out / "policy" / "value_head.safetensors").is_file()
    assert [int(r["cycle"]) for r in rows] == [0, 1]
    metrics = read_rows(out / "metrics.csv")
    assert len(metrics) == 2 * 2
    for key in ("kl", "beta", "score", "score_minus_kl", "gold", "entropy", "clip_fraction", "approx_kl",
                "explained_variance"):  # fmt: skip
        assert all(math.isfinite(r[key]) for r in metrics), key
    for key in ("rm_val_accuracy", "elo_rm_spearman", "gold_before", "gold_after", "proxy_before", "proxy_after"):
        assert key in rows[0]


def test_each_prompt_brings_k_completions_ranked_as_all_their_pairs_and_later_cycles_mix_in_the_initial_policy(
    finished_run,
):
    out, _ = finished_run
    store = LabelStore(out / "labels.sqlite")
    items = {i: json.loads(p) for i, p in store.items(store.item_ids("text")).items()}
    assert len(items) == 2 * PROMPTS * K
    pairs_per_cycle = PROMPTS * K * (K - 1) // 2
    assert store.count_queries() == 2 * pairs_per_cycle
    assert store.count_labels() + store.count_queries("skipped") == 2 * pairs_per_cycle
    for c in store.comparisons():  # every comparison is inside one prompt's group
        assert items[c.a]["group"] == items[c.b]["group"]
    sources = {(p["cycle"], p["source"]) for p in items.values()}
    assert sources == {(0, "policy-0"), (1, "reference"), (1, "policy-1")}
    assert {r["annotator"] for r in store.labels()} == {"oracle:positive:perfect"}
    store.close()


def test_rerunning_a_finished_run_asks_nothing_new_and_more_cycles_continue_it(finished_run):
    out, _ = finished_run
    store = LabelStore(out / "labels.sqlite")
    before = store.count_queries()
    rows = TextTrainer(tiny_config(out), progress=False).run()
    assert len(rows) == 2 and store.count_queries() == before
    rows = TextTrainer(tiny_config(out, cycles=3), progress=False).run()
    assert [int(r["cycle"]) for r in rows] == [0, 1, 2]
    assert store.count_queries() == before + PROMPTS * K * (K - 1) // 2
    assert len(read_rows(out / "metrics.csv")) == 3 * 2
    store.close()


def test_a_run_with_another_oracle_in_the_same_folder_is_refused(finished_run):
    out, _ = finished_run
    with pytest.raises(Exception, match="another oracle"):
        TextTrainer(tiny_config(out, oracle="length"), progress=False)


def test_a_text_run_records_its_settings_format_and_one_from_a_newer_prefrl_is_refused_in_one_line(
    finished_run, tmp_path, capsys
):
    import shutil

    out, _ = finished_run
    recorded = json.loads((out / "config.json").read_text())
    read_back = TextTrainConfig.from_dict(recorded)  # (another test of this run may have run more cycles)
    assert recorded["version"] == 1 and read_back == tiny_config(out, cycles=recorded["cycles"])
    newer = tmp_path / "newer"
    shutil.copytree(out, newer)
    (newer / "config.json").write_text(json.dumps({**recorded, "version": 99, "a_later_setting": 1}))
    assert main(["text", "train", "--out", str(newer), "--cycles", "3", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "written by a newer prefrl (format version 99" in err
    assert json.loads((newer / "config.json").read_text())["version"] == 99  # left as it was


def test_the_cli_says_in_one_line_when_a_model_folder_is_missing_or_cuda_is_absent(tmp_path, capsys):
    assert main(["text", "train", "--out", str(tmp_path / "r"), "--model", str(tmp_path / "nothing"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prefrl: error: no model at") and "pretrain" in err and "\n" not in err
    import torch

    if not torch.cuda.is_available():
        assert main(["text", "sample", str(tmp_path), "--device", "cuda"]) == 2
        assert "--device cpu" in capsys.readouterr().err


def test_with_a_person_as_teacher_each_cycle_waits_for_their_rankings_in_the_window(tmp_path):
    """The trainer asks, the labelling window (real pygame, dummy video driver) answers, then PPO runs."""
    import threading
    import time

    import pygame

    from prefrl.ui.window import LabelWindow

    out = tmp_path / "human"
    config = tiny_config(out, teacher="human", cycles=1, prompts_per_cycle=2)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(rows=TextTrainer(config, progress=False).run()), daemon=True)
    thread.start()
    deadline = time.time() + 120
    while not (out / "labels.sqlite").exists():
        assert time.time() < deadline and thread.is_alive(), "the trainer never started"
        time.sleep(0.1)
    store = LabelStore(out / "labels.sqlite")
    while store.get_state("trainer") != "waiting for labels":  # pretraining and SFT first
        assert time.time() < deadline and thread.is_alive(), "the trainer never asked"
        time.sleep(0.2)
    assert store.count_queries("pending") == 2 * K * (K - 1) // 2
    window = LabelWindow(out, "alice")  # each prompt's K completions ranked at once
    assert len(window.rects) == K
    try:
        while store.count_queries("pending") and time.time() < deadline:
            window.step()
            if window.current is not None and window.current.shown:
                for key in [getattr(pygame, f"K_{n}") for n in range(K, 0, -1)] + [pygame.K_RETURN]:
                    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))
                    window.step()
            time.sleep(0.01)
        window.step()
    finally:
        window.close()
    thread.join(timeout=120)
    assert not thread.is_alive() and [int(r["cycle"]) for r in result["rows"]] == [0]
    labels = store.labels()
    assert len(labels) == 2 * K * (K - 1) // 2 and {r["annotator"] for r in labels} == {"alice"}
    assert int(result["rows"][0]["labels"]) == len(labels)
    assert store.get_state("trainer") == "finished"
    store.close()


def one_line_error(capsys, *args):
    assert main(list(args)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("prefrl: error: ") and "\n" not in err, err
    return err


def test_after_a_failed_start_the_command_line_decides_not_the_failed_starts_config(tmp_path, capsys):
    out = str(tmp_path / "r")
    one_line_error(capsys, "text", "train", "--out", out, "--model", str(tmp_path / "bad"), "--quiet")
    err = one_line_error(capsys, "text", "train", "--out", out, "--model", str(tmp_path / "other"), "--quiet")
    assert str(tmp_path / "other") in err and str(tmp_path / "bad") not in err


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--oracle", "length"], "was started with --oracle positive, not length"),
        (["--seed", "3"], "was started with --seed 0, not 3"),
        (["--k", "4"], "was started with --k 3, not 4"),
    ],
)
def test_resuming_a_text_run_with_other_settings_is_refused_naming_them(finished_run, tmp_path, capsys, flags, needle):
    import shutil

    out, _ = finished_run
    copy = tmp_path / "run"
    shutil.copytree(out, copy)
    err = one_line_error(capsys, "text", "train", "--out", str(copy), *flags, "--quiet")
    assert needle in err and "--cycles" in err


def test_a_moved_text_run_resumes_where_it_now_is(finished_run, tmp_path, capsys):
    import shutil

    out, _ = finished_run
    shutil.copytree(out, tmp_path / "before")
    shutil.move(tmp_path / "before", tmp_path / "after")
    assert main(["text", "train", "--out", str(tmp_path / "after"), "--quiet"]) == 0
    assert f"run folder: {tmp_path / 'after'}" in capsys.readouterr().out
    assert not (tmp_path / "before").exists()
    assert json.loads((tmp_path / "after" / "config.json").read_text())["out"] == str(tmp_path / "after")


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--cycles", "0"], "--cycles must be at least 1"),
        (["--prompts", "0"], "--prompts must be at least 1 prompt ranked per cycle"),
        (["--max-new-tokens", "0"], "--max-new-tokens must be at least 1"),
        (["--threads", "0"], "--threads must be at least 1"),
        (["--k", "1"], "--k must be at least 2"),
    ],
)
def test_text_numbers_a_run_cannot_use_are_refused_before_any_model_is_built(tmp_path, capsys, flags, needle):
    err = one_line_error(capsys, "text", "train", "--out", str(tmp_path / "r"), *flags, "--quiet")
    assert needle in err
    assert not (tmp_path / "r").exists()


def test_pretraining_into_a_folder_of_other_files_is_refused_as_the_model_replaces_the_whole_folder(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    err = one_line_error(capsys, "text", "pretrain", "--out", str(tmp_path), "--max-steps", "1")
    assert "holds other files" in err and (tmp_path / "notes.txt").read_text() == "mine"
