"""A text task of your own: prompts and demonstrations from JSONL files, a module:callable oracle, and any local
Hugging Face causal LM with its own tokenizer, from the command line or from Python."""

import json
import os
import sys
from dataclasses import asdict

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest

from prefrl.cli import main
from prefrl.core.store import LabelStore
from prefrl.text.config import TextTrainConfig
from prefrl.text.task import TextTask
from prefrl.text.trainer import TextTrainer

PROMPTS = ["Name a fruit:", "What grows on trees?", "Pick something sweet:", "A plum or a pear?"]
DEMOS = [(p, c) for p in PROMPTS for c in ("An apple.", "A pear, ripe and sweet.", "Plums.")]
SMALL = ["--k", "2", "--prompts", "4", "--cycles", "1", "--ppo-iterations", "1", "--max-new-tokens", "6", "--quiet",
         "--threads", "1"]  # fmt: skip


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    """A GPT-2-shaped model with a tokenizer of its own (other special tokens than prefrl's), saved as any local
    Hugging Face model folder is."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("hf") / "tiny"
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    texts = [p + " " + c for p, c in DEMOS] * 5
    raw.train_from_iterator(
        texts, trainers.BpeTrainer(vocab_size=200, special_tokens=["<unk>", "<s>", "</s>", "<pad>"])
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                        unk_token="<unk>")  # fmt: skip
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tokenizer), n_positions=48, n_embd=32, n_layer=1, n_head=2,
                                       bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id))  # fmt: skip
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("task")
    (folder / "prompts.jsonl").write_text("".join(json.dumps({"prompt": p}) + "\n" for p in PROMPTS))
    (folder / "demos.jsonl").write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n" for p, c in DEMOS))
    return folder


def test_a_task_from_files_with_a_callable_oracle_runs_end_to_end_on_a_model_of_your_own(tiny_model, files, tmp_path):
    out = tmp_path / "run"
    args = ["text", "train", "--out", str(out), "--model", str(tiny_model), "--prompts-file",
            str(files / "prompts.jsonl"), "--demos-file", str(files / "demos.jsonl"), "--oracle",
            "tests.text_oracles:prefers_short", *SMALL]  # fmt: skip
    assert main(args) == 0
    store = LabelStore(out / "labels.sqlite", create=False)
    items = [json.loads(store.item(i)) for i in store.item_ids("text")]
    assert {i["prompt"] for i in items} <= set(PROMPTS)  # the user's prompts were ranked...
    assert all(i["gold"] == -len(i["completion"].split()) for i in items)  # ...by the user's oracle
    assert store.count_labels() == 4  # 4 prompts, C(2,2) = 1 comparison each
    assert json.loads((out / "config.json").read_text())["oracle"] == "tests.text_oracles:prefers_short"


def test_a_task_of_your_own_from_python_with_an_oracle_object(tiny_model, tmp_path):
    from tests.text_oracles import MentionsFruit

    config = TextTrainConfig(out=str(tmp_path / "run"), model=str(tiny_model), k=2, prompts_per_cycle=4, cycles=1,
                             ppo_iterations=1, eval_prompts=4, normalise_samples=4, threads=1)  # fmt: skip
    task = TextTask(oracle=MentionsFruit(), prompts=PROMPTS, demonstrations=DEMOS)
    rows = TextTrainer(config, progress=False, task=task).run()
    assert len(rows) == 1 and rows[0]["labels"] == 4
    store = LabelStore(tmp_path / "run" / "labels.sqlite", create=False)
    items = [json.loads(store.item(i)) for i in store.item_ids("text")]
    assert {i["prompt"] for i in items} <= set(PROMPTS)
    assert all(i["gold"] == MentionsFruit().score(i["prompt"], i["completion"]) for i in items)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["oracle"] == "tests.text_oracles:MentionsFruit"  # what the run was scored by, not the default


def test_a_teacher_of_your_own_ranks_the_completions_it_is_shown_from_python_and_from_the_command_line(
    tiny_model, files, tmp_path, capsys
):
    from dataclasses import replace

    import prefrl
    from prefrl.core.comparisons import Choice
    from prefrl.errors import PrefrlError
    from tests.text_oracles import prefers_fewer_words

    def words_of(run):
        store = LabelStore(run / "labels.sqlite", create=False)
        words = lambda i: len(json.loads(store.item(i))["completion"].split())  # noqa: E731
        return [(words(c.a), words(c.b), c.choice) for c in store.comparisons()]

    def agrees(na, nb, choice):
        return choice == (Choice.EQUAL if na == nb else Choice.LEFT if na < nb else Choice.RIGHT)

    config = TextTrainConfig(out=str(tmp_path / "py"), model=str(tiny_model), k=3, prompts_per_cycle=4, cycles=1,
                             ppo_iterations=1, eval_prompts=4, normalise_samples=4, threads=1)  # fmt: skip
    TextTrainer(config, progress=False, task=TextTask(prompts=PROMPTS, demonstrations=DEMOS,
                                                       teacher=prefers_fewer_words)).run()  # fmt: skip
    ranked = words_of(tmp_path / "py")
    assert len(ranked) == 4 * 3 and all(agrees(*r) for r in ranked)  # the teacher's rule, not the oracle's
    assert json.loads((tmp_path / "py" / "config.json").read_text())["teacher"] == "custom"
    with pytest.raises(PrefrlError, match="hand it over again"):
        TextTrainer(config, progress=False, task=TextTask(prompts=PROMPTS, demonstrations=DEMOS))

    handed = TextTask(teacher=prefrl.teachers.noisy)
    ready = TextTrainer(replace(config, out=str(tmp_path / "ready")), progress=False, task=handed)  # recorded by name
    assert (ready.config.teacher, ready.teacher) == ("noisy", None)

    out = tmp_path / "cli"
    args = ["text", "train", "--out", str(out), "--model", str(tiny_model), "--prompts-file",
            str(files / "prompts.jsonl"), "--demos-file", str(files / "demos.jsonl"), *SMALL]  # fmt: skip
    assert main([*args, "--teacher", "tests.text_oracles:prefers_fewer_words"]) == 0
    assert all(agrees(*r) for r in words_of(out))
    capsys.readouterr()
    assert main([*args, "--cycles", "2"]) == 2  # the run folder alone never imports the teacher it names
    assert "add --teacher tests.text_oracles:prefers_fewer_words" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("oracle", "needle"),
    [
        ("tests.text_oracles:fails_on_plums", "failed on the prompt 'A plum or a pear?' (ValueError: no plums here)"),
        ("tests.text_oracles:not_a_number", "gave nan for the prompt"),
        ("tests.text_oracles:nobody", "module 'tests.text_oracles' has no 'nobody'"),
    ],
)
def test_an_oracle_that_fails_stops_the_run_in_one_line_and_stores_nothing_it_scored(
    tiny_model, files, tmp_path, capsys, oracle, needle
):
    out = tmp_path / "run"
    args = ["text", "train", "--out", str(out), "--model", str(tiny_model), "--prompts-file",
            str(files / "prompts.jsonl"), "--demos-file", str(files / "demos.jsonl"), "--oracle", oracle, *SMALL]  # fmt: skip
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("prefrl: error:") and needle in err
    if (out / "labels.sqlite").exists():
        assert LabelStore(out / "labels.sqlite", create=False).count_labels() == 0


@pytest.mark.parametrize(
    ("flag", "content", "needle"),
    [
        ("--prompts-file", '{"prompt": "fine"}\nnot json\n', "line 2 is not JSON"),
        ("--prompts-file", '{"text": "no prompt key"}\n', "line 1 needs 'prompt' as text"),
        ("--demos-file", '{"prompt": "only a prompt"}\n', "line 1 needs 'prompt' and 'completion' as text"),
    ],
)
def test_a_task_file_that_cannot_be_read_is_refused_in_one_line(tiny_model, tmp_path, capsys, flag, content, needle):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    args = ["text", "train", "--out", str(tmp_path / "run"), "--model", str(tiny_model), flag, str(path), *SMALL]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and needle in err


def test_a_model_folder_that_is_not_a_model_is_refused_in_one_line(tmp_path, capsys):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    assert main(["text", "train", "--out", str(tmp_path / "run"), "--model", str(tmp_path / "model"), *SMALL]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "cannot load a model from" in err


def test_a_run_folder_alone_never_makes_prefrl_import_the_oracle_it_names(tiny_model, tmp_path, capsys):
    """A started run whose config.json names module:callable resumes only when the command line names it again;
    the module is not imported before that."""
    out = tmp_path / "run"
    out.mkdir()
    config = TextTrainConfig(out=str(out), model=str(tiny_model), oracle="tests.oracle_never_imported:score")
    (out / "config.json").write_text(json.dumps(asdict(config)))
    (out / "sft").mkdir()  # a model folder: the run has started
    for command in (
        ["text", "train", "--out", str(out), "--cycles", "2", "--quiet"],
        ["text", "demo", "--out", str(out)],
    ):
        assert main(command) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "add --oracle tests.oracle_never_imported:score" in err
    assert "tests.oracle_never_imported" not in sys.modules


def test_nested_settings_are_options_and_a_resume_refuses_a_changed_one(tiny_model, files, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["text", "train", "--out", str(out), "--model", str(tiny_model), "--prompts-file",
            str(files / "prompts.jsonl"), "--demos-file", str(files / "demos.jsonl"), "--oracle",
            "tests.text_oracles:prefers_short", *SMALL]  # fmt: skip
    nested = ["--ppo", "lr=1e-4", "--ppo", "lam=1", "--reward-model", "epochs=2", "--sft", "max_steps=3"]
    assert main([*args, *nested, "--kl-coef", "0.05"]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["ppo"]["lr"] == 1e-4 and saved["ppo"]["lam"] == 1.0 and saved["ppo"]["kl_coef"] == 0.05
    assert saved["reward"]["epochs"] == 2 and saved["sft"]["max_steps"] == 3
    assert saved["ppo"]["max_new_tokens"] == 6  # the named flag still sets its nested field
    assert main([*args, "--ppo", "lr=3e-4", "--cycles", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "started with --ppo lr 0.0001, not 0.0003" in err


def test_an_oracle_that_cannot_be_imported_by_name_is_recorded_as_such():
    from prefrl.text.task import oracle_record
    from tests.text_oracles import prefers_short

    assert oracle_record("positive") == "positive"
    assert oracle_record(prefers_short) == "tests.text_oracles:prefers_short"
    assert oracle_record(lambda p, c: 0.0) == "<python: <lambda>>"
