import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import csv
import json

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from prefrl.errors import PrefrlError
from prefrl.text import tasks
from prefrl.text.lm_training import PretrainConfig, SFTConfig, pretrain, sft, sft_batch
from prefrl.text.model import ModelConfig, build_model, encode_documents, load, save, train_tokenizer

TINY = ModelConfig(layers=2, width=32, heads=2, context=64, vocab_size=300)


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(tasks.corpus(300, seed=0), vocab_size=300)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A tiny model pretrained for a few steps, shared by the tests that need trained weights."""
    out = tmp_path_factory.mktemp("pretrained")
    config = PretrainConfig(
        documents=400, max_steps=40, batch_size=8, lr=3e-3, warmup_steps=5, eval_every=10, eval_blocks=8, model=TINY
    )
    return out, pretrain(config, out, progress=False)


def test_tokenizer_round_trips_text_and_marks_sequences_with_bos(tokenizer):
    prompt, completion = tasks.demonstrations(1, seed=9)[0]
    text = prompt + completion
    ids = tokenizer(text)["input_ids"]
    assert ids[0] == tokenizer.bos_token_id
    assert tokenizer(text, add_special_tokens=False)["input_ids"] == ids[1:]
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    assert len({tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}) == 3
    assert len(tokenizer) == 300  # the corpus has enough distinct words to fill the vocabulary


def test_model_takes_the_tokenizers_vocabulary_and_special_ids(tokenizer):
    model = build_model(TINY, tokenizer)
    assert model.config.vocab_size == len(tokenizer) == model.get_input_embeddings().num_embeddings
    assert model.config.n_positions == TINY.context
    for key in ("bos_token_id", "eos_token_id", "pad_token_id"):
        assert getattr(model.config, key) == getattr(tokenizer, key) == getattr(model.generation_config, key)


def test_impossible_shapes_are_refused(tokenizer):
    with pytest.raises(PrefrlError, match="divisible"):
        build_model(ModelConfig(width=30, heads=4), tokenizer)
    with pytest.raises(PrefrlError, match="vocab_size"):
        train_tokenizer(["a b c"], vocab_size=100)


def test_documents_pack_into_full_blocks_separated_by_eos_then_bos(tokenizer):
    docs = tasks.corpus(50, seed=1)
    blocks = encode_documents(tokenizer, docs, context=64)
    assert blocks.dtype == torch.long and blocks.shape[1] == 64
    stream = blocks.flatten().tolist()
    eos_at = [i for i, t in enumerate(stream[:-1]) if t == tokenizer.eos_token_id]
    assert len(eos_at) > 10 and all(stream[i + 1] == tokenizer.bos_token_id for i in eos_at)
    assert tokenizer.decode(stream[: stream.index(tokenizer.eos_token_id)], skip_special_tokens=True) == docs[0]


def test_save_then_load_gives_identical_logits(tokenizer, tmp_path):
    model = build_model(TINY, tokenizer).eval()
    save(model, tokenizer, tmp_path / "m")
    loaded, loaded_tok = load(tmp_path / "m")
    ids = torch.tensor([tokenizer("Tell a story about Mirela.")["input_ids"]])
    assert loaded_tok("Tell a story about Mirela.")["input_ids"] == ids[0].tolist()
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(model(input_ids=ids).logits, loaded(input_ids=ids).logits)


def test_any_local_causal_lm_loads_and_pads_with_eos_when_it_has_no_pad(tokenizer, tmp_path):
    bare = PreTrainedTokenizerFast(tokenizer_object=tokenizer.backend_tokenizer, eos_token="<|eos|>")
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(bare), n_positions=32, n_embd=16, n_layer=1, n_head=2))
    save(model, bare, tmp_path / "hf")
    _, loaded_tok = load(tmp_path / "hf")
    assert loaded_tok.pad_token_id == loaded_tok.eos_token_id


@pytest.mark.parametrize("where", ["missing", "empty", "gpt2"])
def test_loading_what_is_not_a_local_model_says_how_to_make_one(tmp_path, where):
    path = {"missing": tmp_path / "nothing", "empty": tmp_path, "gpt2": "gpt2"}[where]
    with pytest.raises(PrefrlError, match="pretrain"):
        load(path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_asking_for_cuda_without_it_is_refused(pretrained):
    with pytest.raises(PrefrlError, match="--device cpu"):
        load(pretrained[0], device="cuda")


def test_pretraining_lowers_held_out_loss_and_writes_a_loadable_run(pretrained):
    out, metrics = pretrained
    assert metrics["steps"] == 40
    assert metrics["held_out_loss"] < metrics["held_out_loss_before"] - 0.5
    for name in ("model.safetensors", "config.json", "tokenizer.json", "pretrain_config.json", "loss_curve.png"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [0, 10, 20, 30, 40]
    assert float(rows[-1]["held_out_loss"]) == pytest.approx(metrics["held_out_loss"])
    assert json.loads((out / "pretrain_config.json").read_text())["model"]["width"] == TINY.width
    model, tok = load(out)
    assert model.config.vocab_size == len(tok) == TINY.vocab_size


def test_sft_batches_learn_only_the_completion_and_its_eos(tokenizer):
    pairs = [("Tell a story about Ana and a kite at the park.\n", "Ana smiled."), ("Tell me.\n", "A long story.")]
    batch = sft_batch(tokenizer, pairs, context=64)
    for i, (prompt, completion) in enumerate(pairs):
        p = tokenizer(prompt)["input_ids"]
        c = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        n = len(p) + len(c)
        assert batch["input_ids"][i, :n].tolist() == p + c  # right-padded, prompt first
        assert batch["labels"][i, : len(p)].tolist() == [-100] * len(p)
        assert batch["labels"][i, len(p) : n].tolist() == c
        assert batch["attention_mask"][i].tolist() == [1] * n + [0] * (batch["input_ids"].shape[1] - n)
        assert (batch["labels"][i, n:] == -100).all()


def test_sft_batches_are_cut_at_the_context(tokenizer):
    prompt, completion = tasks.demonstrations(1, seed=2)[0]
    batch = sft_batch(tokenizer, [(prompt, completion * 20)], context=32)
    assert batch["input_ids"].shape == (1, 32)


def test_a_few_sft_steps_lower_the_held_out_loss_on_demonstrations(pretrained):
    model, tok = load(pretrained[0])
    pairs = tasks.demonstrations(120, seed=4)
    config = SFTConfig(epochs=2, max_steps=15, batch_size=8, lr=3e-3, warmup_steps=2, held_out_fraction=0.2)
    metrics = sft(model, tok, pairs, config, progress=False)
    assert metrics["steps"] == 15  # two passes over 96 training pairs would be 24 steps; max_steps caps them
    assert metrics["held_out_loss"] < metrics["held_out_loss_before"] - 0.1
    assert not model.training


def test_sft_refuses_too_few_demonstrations(tokenizer):
    with pytest.raises(PrefrlError, match="demonstrations"):
        sft(build_model(TINY, tokenizer), tokenizer, tasks.demonstrations(1), SFTConfig(), progress=False)
