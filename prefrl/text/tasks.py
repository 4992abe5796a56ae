"""Procedurally generated story tasks: prompts, demonstrations, a pretraining corpus, and hidden oracles.

A prompt asks for a story about a character and an object (the prompt's *entity*) at a place; a completion is a
story of 1-6 sentences. Stories mix positive and negative words at a random mood, mention the entity only some of
the time and sometimes repeat a sentence, so that every oracle has room to improve. Everything comes from a seed;
the world (names, towns, objects) is fixed across seeds, so a model pretrained on one seed's corpus knows the
names in another seed's prompts.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from typing import Protocol

from prefrl.errors import PrefrlError

PROMPT_END = "\n"

# ---------------------------------------------------------------------------------------------------------------------
# The lexicon. Sentiment words come in slot kinds (adjective, feeling, reaction, noun) so templates stay grammatical.

_POS_ADJ = (
    "bright lovely wonderful beautiful sunny warm gentle shining cozy sweet splendid cheerful marvelous pleasant "
    "delightful kind friendly peaceful perfect glorious"
).split()
_NEG_ADJ = (
    "dark broken gloomy cold dreadful terrible awful ugly rotten ruined grim stormy nasty miserable bitter horrible "
    "cruel dreary filthy wretched"
).split()
_NEUTRAL_ADJ = (
    "old small tall blue red green wooden round quiet heavy tiny long narrow silver dusty strange plain wide little "
    "large empty new busy distant hidden striped yellow brown ancient square"
).split()
_POS_FEEL = "happy glad proud calm hopeful joyful delighted grateful brave excited".split()
_NEG_FEEL = "sad angry lonely afraid worried upset scared grumpy tired ashamed".split()
_POS_REACT = "laughed smiled cheered danced sang clapped giggled rejoiced".split()
_NEG_REACT = "cried frowned sighed shouted wept trembled sobbed groaned".split()
_POS_NOUN = "joy delight hope love wonder glee".split()
_NEG_NOUN = "sorrow fear anger pain grief dread".split()

POSITIVE_WORDS: frozenset[str] = frozenset(_POS_ADJ + _POS_FEEL + _POS_REACT + _POS_NOUN)
NEGATIVE_WORDS: frozenset[str] = frozenset(_NEG_ADJ + _NEG_FEEL + _NEG_REACT + _NEG_NOUN)

OBJECTS = tuple(
    dict.fromkeys(
        (
            "lantern kite key map drum violin compass basket ribbon feather shell mirror clock bell book candle coin "
            "cup flute hat jar ladder letter lamp locket net pebble pillow quilt ring rope scarf seed spoon stone "
            "sword teapot umbrella wagon whistle boat bicycle blanket bottle bucket button carpet chest crown crystal "
            "doll egg fan flag glove hammer harp helmet kettle leaf marble medal needle paintbrush pearl pencil puzzle "
            "radio saddle shovel sled sock statue telescope ticket torch trumpet vase wand watch wheel pot cart rake "
            "anchor banner barrel brooch cloak comb fiddle globe hourglass jug lute mask oar pipe shield thimble tray "
            "trunk acorn apron bowl broom candlestick chalk fork kettledrum parcel postcard sack spindle teacup"
        ).split()
    )
)
_PLACES = tuple(
    "the " + p
    for p in (
        "harbor|market|old mill|forest|river|meadow|castle|bakery|library|lighthouse|school|garden|bridge|station|"
        "farm|beach|hill|village square|orchard|museum|cave|lake|workshop|tower|fair|valley|island|pier|temple|"
        "theater|zoo|park|barn|inn|cottage|chapel|quarry|glade|dock|crossroads"
    ).split("|")
)
_ANIMALS = (
    "cat dog fox owl horse rabbit goose duck crow deer bear wolf mouse frog goat lamb pony hedgehog otter badger "
    "squirrel swan heron robin sparrow turtle lizard beetle moth bee donkey cow pig hen parrot raccoon seal whale "
    "dolphin crab toad weasel mole bat lynx falcon hawk magpie salmon trout"
).split()
_FOODS = (
    "bread soup pie cake apple pear cheese honey tea porridge plum cherry stew biscuit muffin jam milk pudding".split()
)
_SPOTS = "door window gate fence well tree wall stairs fire pond road shore".split()
_TIMES = "morning afternoon evening night day".split()


def _invent_words(rng: random.Random, n: int, endings: list[str], syllables: tuple[int, int]) -> tuple[str, ...]:
    """n distinct capitalised words built from syllables: enough distinct words to fill a 2k BPE vocabulary. None
    is an English word of the lexicon, so a name never counts as a sentiment word or an entity."""
    reserved = POSITIVE_WORDS | NEGATIVE_WORDS | set(OBJECTS).union(_ANIMALS, _FOODS, _NEUTRAL_ADJ, _SPOTS, _TIMES)
    onsets = "b br c d dr f g gr h j k l m n p r s st t th v w z sh ch fl pr tr".split()
    nuclei = "a e i o u ae ia ei ou".split()
    codas = ["", "", "n", "l", "r", "s", "th", "m", "nd", "rk"]
    out: dict[str, None] = {}
    while len(out) < n:
        parts = [rng.choice(onsets) + rng.choice(nuclei) + rng.choice(codas) for _ in range(rng.randint(*syllables))]
        word = ("".join(parts) + rng.choice(endings)).capitalize()
        if 4 <= len(word) <= 10 and word.lower() not in reserved:
            out[word] = None
    return tuple(out)


# a fixed world seed: the same names and towns whatever seed a task is drawn with
_world = random.Random(20170612)
NAMES = _invent_words(_world, 1200, ["a", "o", "in", "el", "is", "ara", "en", "ia", "", "an", "ette"], (1, 2))
TOWNS = _invent_words(_world, 300, ["ford", "wick", "dale", "moor", "bury", "haven", "stead", "ton", "mere"], (1, 2))

_PROMPT_TEMPLATES = (
    "Tell a story about {name} and {art} {entity} at {place}.",
    "Write a short story in which {name} finds {art} {entity} at {place}.",
    "Tell me about {name}, {art} {entity}, and a day at {place}.",
)

# {adj}, {feel}, {react}, {noun} take the story's mood; the rest are fixed per story or drawn per sentence. Objects
# appear only as the entity, up to twice: a (4, 128) model pretrained for 1200 steps mentioned the prompt's entity in
# ~1% of 64 samples when stories also held other objects, 4% with one mention and none else, ~20% with up to two
# (the demonstrations: ~56%). Copying the entity from the prompt is what a small model learns last.
_SENTENCES = (
    "{name} walked to {place} on {art_adj} {time}.",
    "{name} lived in {town} with {art_adj} {animal}.",
    "At {place}, {name} met {friend}, who was {feel}.",
    "{name} found {art_adj} {animal} near the {spot}.",
    "The {animal} {react} when {name} came home.",
    "{friend} said the {time} was {adj}, and {name} {react}.",
    "{name} felt {feel} and {react}.",
    "The sky over {town} was {adj}.",
    "Later, {name} and {friend} shared {art_adj} {food}.",
    "Everyone at {place} {react} with {noun}.",
    "{name} gave {art_adj} {food} to {friend}, who felt {feel}.",
    "That night, {name} dreamed of {art_adj} {animal}.",
    "{name} was {feel} all {time}.",
    "The {spot} near the house was {adj}, and {name} felt {noun}.",
)
_ENTITY_SENTENCES = (
    "{name} found {art_adj} {entity} at {place}.",
    "The {entity} was {adj}, and {name} felt {feel}.",
    "{name} carried the {entity} all the way to {town}.",
    "{friend} looked at the {entity} and {react}.",
    "In the end, {name} kept the {entity} close.",
    "The {entity} made {name} feel {feel}.",
)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" or word.startswith("hour") else "a"


@dataclass
class TaskConfig:
    """The shape of the story distribution. `seed` is the base seed a trainer derives its own seeds from; each
    generator below takes its seed explicitly so that train, held-out and evaluation sets come from distinct seeds."""

    seed: int = 0
    min_sentences: int = 1
    max_sentences: int = 6
    entity_rate: float = 0.6
    """Fraction of stories that mention the prompt's entity."""
    repeat_rate: float = 0.2
    """Fraction of stories with a repeated sentence."""
    plain_fraction: float = 0.1
    """Fraction of corpus documents that are a story without its prompt."""

    def __post_init__(self) -> None:
        if not 1 <= self.min_sentences <= self.max_sentences:
            raise PrefrlError(f"sentences {self.min_sentences}..{self.max_sentences} is empty: pass 1 <= min <= max")
        for key in ("entity_rate", "repeat_rate", "plain_fraction"):
            if not 0 <= getattr(self, key) <= 1:
                raise PrefrlError(f"{key} {getattr(self, key)} is not a probability: pass a value in [0, 1]")


@dataclass
class _Scene:
    name: str
    entity: str
    place: str


def _scene(rng: random.Random) -> _Scene:
    return _Scene(rng.choice(NAMES), rng.choice(OBJECTS), rng.choice(_PLACES))


def _prompt_text(scene: _Scene, rng: random.Random) -> str:
    template = rng.choice(_PROMPT_TEMPLATES)
    return template.format(name=scene.name, art=_article(scene.entity), entity=scene.entity, place=scene.place)


def make_prompt(rng: random.Random) -> str:
    """One prompt line, e.g. "Tell a story about Mirela and a lantern at the harbor.\\n"."""
    return _prompt_text(_scene(rng), rng) + PROMPT_END


def _fill(template: str, scene: _Scene, rng: random.Random, mood: float) -> str:
    def positive() -> bool:  # drawn afresh for each sentiment slot
        return rng.random() < mood

    adj = rng.choice(_NEUTRAL_ADJ) if rng.random() < 0.3 else rng.choice(_POS_ADJ if positive() else _NEG_ADJ)
    text = template.format(
        name=scene.name,
        entity=scene.entity,
        place=scene.place,
        friend=rng.choice(NAMES),
        town=rng.choice(TOWNS),
        animal=rng.choice(_ANIMALS),
        food=rng.choice(_FOODS),
        spot=rng.choice(_SPOTS),
        time=rng.choice(_TIMES),
        adj=adj,
        art_adj=f"{_article(adj)} {adj}",
        feel=rng.choice(_POS_FEEL if positive() else _NEG_FEEL),
        react=rng.choice(_POS_REACT if positive() else _NEG_REACT),
        noun=rng.choice(_POS_NOUN if positive() else _NEG_NOUN),
    )
    return text[0].upper() + text[1:]


def _story(scene: _Scene, rng: random.Random, config: TaskConfig) -> str:
    """A story of min..max sentences at a random mood; it mentions the entity with probability entity_rate."""
    mood = rng.random()
    n = rng.randint(config.min_sentences, config.max_sentences)
    templates = rng.sample(_SENTENCES, min(n, len(_SENTENCES)))
    if rng.random() < config.entity_rate:
        # up to 2 mentions: more copies per story teach a small model to copy the entity sooner (see above)
        slots = rng.sample(range(len(templates)), min(len(templates), rng.randint(1, 2)))
        for slot, sentence in zip(slots, rng.sample(_ENTITY_SENTENCES, len(slots))):
            templates[slot] = sentence
    sentences = [_fill(t, scene, rng, mood) for t in templates]
    if rng.random() < config.repeat_rate:
        i = rng.randrange(len(sentences))
        sentences[i + 1 : i + 1] = [sentences[i]] * rng.randint(1, 2)
    return " ".join(sentences)


def prompts(n: int, seed: int = 0) -> list[str]:
    """n prompts, each one line ending in PROMPT_END."""
    rng = random.Random(f"prompts-{seed}")
    return [make_prompt(rng) for _ in range(n)]


def demonstrations(n: int, seed: int = 0, config: TaskConfig | None = None) -> list[tuple[str, str]]:
    """n (prompt, completion) pairs; the completion is the story alone, without any end-of-sequence text."""
    config = config or TaskConfig()
    rng = random.Random(f"demonstrations-{seed}")
    pairs = []
    for _ in range(n):
        scene = _scene(rng)
        pairs.append((_prompt_text(scene, rng) + PROMPT_END, _story(scene, rng, config)))
    return pairs


def corpus(n: int, seed: int = 0, config: TaskConfig | None = None) -> list[str]:
    """n pretraining documents from the demonstrations' distribution: prompt + story, or (plain_fraction) a story
    alone."""
    config = config or TaskConfig()
    rng = random.Random(f"corpus-{seed}")
    docs = []
    for _ in range(n):
        scene = _scene(rng)
        prompt = _prompt_text(scene, rng) + PROMPT_END
        story = _story(scene, rng, config)
        docs.append(story if rng.random() < config.plain_fraction else prompt + story)
    return docs


def _template_regex(template: str) -> re.Pattern[str]:
    groups = {"name": r"[A-Z][a-z]+", "art": r"an?", "entity": r"(?P<entity>[a-z]+)", "place": r"the [a-z ]+"}
    parts = re.split(r"\{(\w+)\}", template)  # literal, slot, literal, slot, ...
    body = "".join(groups[p] if i % 2 else re.escape(p) for i, p in enumerate(parts))
    return re.compile(body + r"\s*$")


_PROMPT_REGEXES = tuple(_template_regex(t) for t in _PROMPT_TEMPLATES)


def prompt_entity(prompt: str) -> str:
    """The entity (object) a prompt asks the story to be about, parsed back from the prompt's text."""
    for regex in _PROMPT_REGEXES:
        match = regex.match(prompt.strip())
        if match:
            return match.group("entity")
    raise PrefrlError(f"no entity found in prompt {prompt.strip()!r}: use prompts from prefrl.text.tasks.prompts()")


# ---------------------------------------------------------------------------------------------------------------------
# Oracles: the hidden true scores that synthetic teachers label by. Deterministic; each docstring is the definition.


def words(text: str) -> list[str]:
    """Lower-case words (letters and apostrophes); punctuation and digits are dropped."""
    return re.findall(r"[a-z']+", text.lower())


class Oracle(Protocol):
    """A hidden true score of a completion given its prompt."""

    name: str

    def score(self, prompt: str, completion: str) -> float: ...


@dataclass
class Positive:
    """(P - N) / (P + N + 1), where P and N count the *distinct* words of the completion in POSITIVE_WORDS and
    NEGATIVE_WORDS. In (-1, 1); 0 for no sentiment words. Distinct counts mean repeating one word gains nothing."""

    name: str = "positive"

    def score(self, prompt: str, completion: str) -> float:
        seen = set(words(completion))
        p, n = len(seen & POSITIVE_WORDS), len(seen & NEGATIVE_WORDS)
        return (p - n) / (p + n + 1)


@dataclass
class Entity:
    """0 if the completion never mentions the prompt's entity (the word or its plural with "s"); otherwise
    0.75 + 0.25 * (1 - i / n), where i is the index of the first mention among the completion's n words. In [0, 1]."""

    name: str = "entity"

    def score(self, prompt: str, completion: str) -> float:
        entity = prompt_entity(prompt)
        ws = words(completion)
        for i, w in enumerate(ws):
            if w in (entity, entity + "s"):
                return 0.75 + 0.25 * (1 - i / len(ws))
        return 0.0


@dataclass
class Length:
    """max(-1, -|n - target| / target) for a completion of n words: 0 at the target, -1 at twice it or at 0 words."""

    target: int = 30
    name: str = "length"

    def __post_init__(self) -> None:
        if self.target < 1:
            raise PrefrlError(f"length target must be at least 1 word, got {self.target}: pass target >= 1")

    def score(self, prompt: str, completion: str) -> float:
        return max(-1.0, -abs(len(words(completion)) - self.target) / self.target)


@dataclass
class NoRepeat:
    """Distinct word 3-grams / all word 3-grams of the completion; 1.0 with fewer than 3 words. In (0, 1]."""

    name: str = "norepeat"

    def score(self, prompt: str, completion: str) -> float:
        ws = words(completion)
        grams = list(zip(ws, ws[1:], ws[2:]))
        return len(set(grams)) / len(grams) if grams else 1.0


@dataclass
class Combo:
    """The default task: 0.4 * positive + 0.3 * entity + 0.15 * norepeat + 0.15 * length (weights configurable;
    target is the length oracle's). In [-0.55, 0.85] with the default weights. The length term keeps "be positive"
    from collapsing into a short list of nice words."""

    weights: dict[str, float] = field(
        default_factory=lambda: {"positive": 0.4, "entity": 0.3, "norepeat": 0.15, "length": 0.15}
    )
    target: int = 30
    name: str = "combo"

    def __post_init__(self) -> None:
        unknown = set(self.weights) - {"positive", "entity", "norepeat", "length"}
        if unknown:
            raise PrefrlError(f"unknown combo weights {sorted(unknown)}: use positive, entity, norepeat, length")
        self._parts = {
            "positive": Positive(),
            "entity": Entity(),
            "norepeat": NoRepeat(),
            "length": Length(self.target),
        }

    def score(self, prompt: str, completion: str) -> float:
        return sum(w * self._parts[k].score(prompt, completion) for k, w in self.weights.items())


ORACLES: dict[str, type] = {
    "positive": Positive,
    "entity": Entity,
    "length": Length,
    "norepeat": NoRepeat,
    "combo": Combo,
}


def make_oracle(name: str, **kwargs) -> Oracle:
    """The oracle called name, built with kwargs (e.g. make_oracle("length", target=40))."""
    if name not in ORACLES:
        raise PrefrlError(f"unknown oracle {name!r}: choose one of {', '.join(ORACLES)}")
    try:
        return ORACLES[name](**kwargs)
    except TypeError as e:
        raise PrefrlError(
            f"bad options for oracle {name!r} ({e}): see prefrl.text.tasks.{ORACLES[name].__name__}"
        ) from None


def mean_score(oracle: Oracle, pairs: list[tuple[str, str]]) -> float:
    """The oracle's mean score over (prompt, completion) pairs: the gold number to report beside a proxy's."""
    return math.fsum(oracle.score(p, c) for p, c in pairs) / max(len(pairs), 1)
