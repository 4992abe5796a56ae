import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import random
import re

import pytest

from prefrl.errors import PrefrlError
from prefrl.text import tasks
from prefrl.text.tasks import (
    NEGATIVE_WORDS,
    ORACLES,
    POSITIVE_WORDS,
    PROMPT_END,
    corpus,
    demonstrations,
    make_oracle,
    make_prompt,
    prompt_entity,
    prompts,
    words,
)

PROMPT = "Tell a story about Mirela and a lantern at the harbor.\n"


def test_everything_is_deterministic_per_seed_and_differs_across_seeds():
    assert prompts(20, seed=3) == prompts(20, seed=3)
    assert demonstrations(20, seed=3) == demonstrations(20, seed=3)
    assert corpus(20, seed=3) == corpus(20, seed=3)
    assert prompts(20, seed=3) != prompts(20, seed=4)
    assert demonstrations(20, seed=3) != demonstrations(20, seed=4)


def test_prompts_are_one_line_ending_in_prompt_end_and_their_entity_parses_back():
    rng = random.Random(0)
    for prompt in [*prompts(200, seed=1), make_prompt(rng)]:
        assert prompt.endswith(PROMPT_END) and prompt.count("\n") == 1
        entity = prompt_entity(prompt)
        assert entity in tasks.OBJECTS
        assert re.search(rf"\b{entity}\b", prompt)
    assert prompt_entity(PROMPT) == "lantern"


def test_a_prompt_without_an_entity_is_refused():
    with pytest.raises(PrefrlError, match="prompt"):
        prompt_entity("Write a poem.\n")


def test_demonstrations_vary_in_sentiment_length_entity_and_repetition():
    pairs = demonstrations(500, seed=0)
    assert all(p.endswith(PROMPT_END) and "\n" not in c and c for p, c in pairs)
    vocab = [set(words(c)) for _, c in pairs]
    assert sum(bool(v & POSITIVE_WORDS) for v in vocab) > 200
    assert sum(bool(v & NEGATIVE_WORDS) for v in vocab) > 200
    assert sum(bool(v & POSITIVE_WORDS) and bool(v & NEGATIVE_WORDS) for v in vocab) > 100
    sentences = [c.count(".") for _, c in pairs]
    assert min(sentences) == 1 and max(sentences) >= 6
    mentions = sum(prompt_entity(p) in words(c) for p, c in pairs) / len(pairs)
    assert 0.45 < mentions < 0.75
    split = [[s.strip() for s in c.split(".") if s.strip()] for _, c in pairs]
    repeated = sum(len(set(s)) < len(s) for s in split) / len(pairs)
    assert 0.1 < repeated < 0.35


def test_the_corpus_has_enough_distinct_words_to_fill_a_2k_vocabulary():
    docs = corpus(3000, seed=0)
    assert len({w for d in docs for w in words(d)}) > 1500
    with_prompt = [d for d in docs if PROMPT_END in d]
    assert 0.8 * len(docs) < len(with_prompt) < len(docs)  # mostly prompt + story, some stories alone


@pytest.mark.parametrize(
    "name,good,bad",
    [
        ("positive", "Mirela had a happy kind day.", "Mirela had a sad broken day."),
        ("positive", "Mirela smiled. Mirela smiled.", "Mirela smiled but cried."),
        ("entity", "Mirela found a lantern.", "Mirela found a kite."),
        ("entity", "The lantern glowed and Mirela walked home.", "Mirela walked home and saw the lantern."),
        ("length", " ".join(["word"] * 31), " ".join(["word"] * 80)),
        ("length", " ".join(["word"] * 29), "Too short."),
        ("norepeat", "Mirela walked to the harbor. Then she sang.", "Mirela walked to the harbor. " * 3),
        (
            "combo",
            "Mirela found a lovely lantern at the harbor and smiled. She carried it home, happy and proud, and "
            "shared warm bread with her kind friend Tavin by the bright fire.",
            "Mirela was sad. Mirela was sad. Mirela was sad.",
        ),
    ],
)
def test_each_oracle_scores_a_good_completion_above_a_bad_one(name, good, bad):
    oracle = make_oracle(name)
    assert oracle.name == name
    assert oracle.score(PROMPT, good) > oracle.score(PROMPT, bad)


def test_positive_cannot_be_raised_by_repeating_one_word():
    oracle = make_oracle("positive")
    assert oracle.score(PROMPT, "happy " * 50) == oracle.score(PROMPT, "happy")
    assert -1 < oracle.score(PROMPT, "sad cruel awful") < 0 < oracle.score(PROMPT, "glad kind bright") < 1


def test_oracles_are_deterministic_bounded_and_spread_over_demonstrations():
    pairs = demonstrations(300, seed=5)
    bounds = {"positive": (-1, 1), "entity": (0, 1), "length": (-1, 0), "norepeat": (0, 1), "combo": (-0.55, 0.85)}
    for name in ORACLES:
        oracle = make_oracle(name)
        scores = [oracle.score(p, c) for p, c in pairs]
        assert scores == [oracle.score(p, c) for p, c in pairs]
        low, high = bounds[name]
        assert all(low <= s <= high for s in scores)
        assert max(scores) - min(scores) > 0.3, name  # room for a preference to improve


def test_oracle_options_are_passed_through():
    assert make_oracle("length", target=10).score(PROMPT, " ".join(["w"] * 10)) == 0.0
    assert make_oracle("combo", weights={"entity": 1.0}).score(PROMPT, "Lantern.") == 1.0


@pytest.mark.parametrize("name,kwargs", [("fluency", {}), ("length", {"colour": 1}), ("length", {"target": 0})])
def test_an_unknown_oracle_or_option_is_refused_naming_the_choices(name, kwargs):
    with pytest.raises(PrefrlError) as e:
        make_oracle(name, **kwargs)
    if name == "fluency":
        assert all(choice in str(e.value) for choice in ORACLES)


def test_invented_names_are_never_words_the_oracles_read():
    reserved = POSITIVE_WORDS | NEGATIVE_WORDS | set(tasks.OBJECTS)
    assert not {n.lower() for n in tasks.NAMES + tasks.TOWNS} & reserved


@pytest.mark.parametrize("kwargs", [{"min_sentences": 4, "max_sentences": 2}, {"entity_rate": 1.5}])
def test_an_impossible_task_config_is_refused(kwargs):
    with pytest.raises(PrefrlError):
        tasks.TaskConfig(**kwargs)


def test_task_config_sets_the_mix_of_entity_mentions_repeats_and_lengths():
    config = tasks.TaskConfig(entity_rate=1.0, repeat_rate=0.0, min_sentences=3, max_sentences=3)
    for prompt, completion in demonstrations(100, seed=2, config=config):
        assert prompt_entity(prompt) in words(completion)
        sentences = [s.strip() for s in completion.split(".") if s.strip()]
        assert len(sentences) == len(set(sentences)) == 3
