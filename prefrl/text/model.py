"""A small GPT-2 and its byte-level BPE tokenizer, both built here, or any Hugging Face causal LM from a local folder."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging

from prefrl.core.records import write_folder_atomic
from prefrl.errors import PrefrlError
from prefrl.text.config import ModelConfig

SPECIAL = {"bos_token": "<|bos|>", "eos_token": "<|eos|>", "pad_token": "<|pad|>"}


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained locally. It prepends <|bos|> to every encoded text itself (add_special_tokens=False
    leaves it off), so tokenizer(prompts) gives exactly what the model saw in training; eos is appended by callers."""
    if vocab_size < 256 + len(SPECIAL):
        raise PrefrlError(f"vocab_size {vocab_size} is below the 259 a byte-level BPE needs: pass at least 259")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    bos = SPECIAL["bos_token"]
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=False, **SPECIAL)


def build_model(config: ModelConfig, tokenizer: PreTrainedTokenizerBase) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 sized by config, with the tokenizer's vocabulary and special-token ids (GPT2Config
    would otherwise say 50256 for bos/eos, outside a small vocabulary)."""
    if config.width % config.heads:
        raise PrefrlError(f"width {config.width} is not divisible by heads {config.heads}: pick a width heads divide")
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    ids["pad_token_id"] = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    gpt_config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=config.context,
        n_embd=config.width,
        n_layer=config.layers,
        n_head=config.heads,
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        **ids,
    )
    model = GPT2LMHeadModel(gpt_config)
    for key, value in ids.items():
        setattr(model.generation_config, key, value)
    return model


def context_length(model: PreTrainedModel) -> int:
    """The longest sequence the model takes, whatever its config calls it."""
    for key in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(model.config, key, None)
        if isinstance(value, int):
            return value
    raise PrefrlError(f"cannot tell the context length of {type(model).__name__}: pass the context explicitly")


def resolve_device(device: str) -> torch.device:
    """torch.device for "cpu", "cuda", "cuda:N" or "auto" (cuda when there is one)."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise PrefrlError(f"unknown device {device!r}: use --device cpu, cuda or auto") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise PrefrlError("CUDA asked for but not available: use --device cpu")
    return resolved


@contextmanager
def _no_hf_progress_bars() -> Iterator[None]:
    """Hide transformers' per-file "Loading weights" / "Writing model shards" bars: noise for a model this small."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def save(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    path: str | Path,
    also: Callable[[Path], None] | None = None,
) -> None:
    """Model (safetensors) and tokenizer into one folder that load() and plain from_pretrained() both read, replaced
    as a whole (`also` writes more files into it first), so a kill leaves the old model or the new one."""

    def write(folder: Path) -> None:
        with _no_hf_progress_bars():
            model.save_pretrained(folder)
            tokenizer.save_pretrained(folder)
        if also is not None:
            also(folder)

    write_folder_atomic(Path(path), write)


def load(path: str | Path, device: str = "cpu") -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A causal LM and its tokenizer from a local folder (ours or any Hugging Face one), in eval mode on device.
    A tokenizer without a pad token pads with eos."""
    path = Path(path)
    hint = f"run `prefrl text pretrain --out {path}` or pass a local Hugging Face model folder"
    if not (path / "config.json").is_file():
        raise PrefrlError(f"no model at {path}: {hint}")
    resolved = resolve_device(device)
    try:
        with _no_hf_progress_bars():
            tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise PrefrlError(f"cannot load a model from {path} ({first_line}): {hint}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.to(resolved).eval(), tokenizer


def encode_documents(tokenizer: PreTrainedTokenizerBase, docs: list[str], context: int) -> torch.Tensor:
    """Documents as (N, context) token blocks for LM training: each document is encoded with the tokenizer's own
    special tokens (our bos) plus eos, all are concatenated, and the stream is cut into full blocks (the tail is
    dropped). Packing wastes no compute on padding; eos then bos teaches where a story ends."""
    if tokenizer.eos_token_id is None:
        raise PrefrlError("the tokenizer has no eos token: use a tokenizer with one (ours sets <|eos|>)")
    stream: list[int] = []
    for ids in tokenizer(docs)["input_ids"]:
        stream.extend(ids)
        stream.append(tokenizer.eos_token_id)
    n = len(stream) // context
    if n == 0:
        raise PrefrlError(f"{len(docs)} documents make {len(stream)} tokens, under one block of {context}: add more")
    return torch.tensor(stream[: n * context], dtype=torch.long).view(n, context)
