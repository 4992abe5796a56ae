"""Oracles of a user's own for the text tests, named as --oracle tests.text_oracles:..."""


def prefers_short(prompt: str, completion: str) -> float:
    """A function oracle: shorter completions are better."""
    return -float(len(completion.split()))


class MentionsFruit:
    """An object oracle: 1 for each fruit named."""

    name = "mentions-fruit"

    def score(self, prompt: str, completion: str) -> float:
        return float(sum(completion.lower().count(f) for f in ("apple", "pear", "plum")))


def fails_on_plums(prompt: str, completion: str) -> float:
    if "plum" in prompt:
        raise ValueError("no plums here")
    return 0.0


def not_a_number(prompt: str, completion: str) -> float:
    return float("nan")


def prefers_fewer_words(a, b) -> str:  # type: ignore[no-untyped-def]
    """A teacher of the user's own: reads the completions themselves (not the gold score) and prefers the shorter."""
    na, nb = len(a.completion.split()), len(b.completion.split())
    return "equal" if na == nb else "left" if na < nb else "right"
