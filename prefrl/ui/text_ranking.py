"""A text run's ranking in the labelling window: a prompt and all K of its completions at once, put in order with
number keys and stored as the C(K,2) comparisons of one group, so a person ranks a prompt in one go instead of
answering its pairs one by one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from prefrl.core.comparisons import Choice
from prefrl.core.store import LabelStore, StoreError
from prefrl.ui.source import QuerySource, SourceConfig
from prefrl.ui.text_view import CUT, PANEL, PROMPT, SIZES, TEXT, TextView, font

HELP = (
    "1-9: the next best completion (press them best first)   Backspace: take the last back   Enter: submit",
    "U: undo the last ranking   Q: quit   (the prompt and the question stay on top)",
)


@dataclass
class Ranking:
    """One prompt's completions to put in order, with the pending queries that compare them."""

    group: int
    queries: list[tuple[int, int, int]]
    items: list[int]
    """The completions' item ids, in the order they are shown (numbered 1..K)."""
    prompt: str
    completions: list[str]
    ended: list[bool]
    shown: bool = False

    @property
    def query_id(self) -> int:
        return self.queries[0][0]

    @property
    def query_ids(self) -> list[int]:
        return [q for q, _, _ in self.queries]

    def answers(self, order: list[int]) -> list[tuple[int, Choice]]:
        """Each query's choice under a ranking: `order` lists shown positions best first (the last may be left
        out: it is the worst)."""
        rest = [i for i in range(len(self.items)) if i not in order]
        rank = {self.items[i]: r for r, i in enumerate(order + rest)}
        return [(q, Choice.LEFT if rank[a] < rank[b] else Choice.RIGHT) for q, a, b in self.queries]


class RankSource(QuerySource[Ranking]):
    """Claims a whole ranking at a time and reads its completions in a thread."""

    def claim(self, store: LabelStore) -> Any:
        return store.claim_group(self.annotator, self.config.lease_s, exclude=self._failed, window=self.window)

    def claim_ids(self, claim: Any) -> list[int]:
        return [q for q, _, _ in claim[1]]

    def prepare(self, store: LabelStore, claim: Any) -> Ranking | None:
        group, queries = claim
        items = list(dict.fromkeys(i for _, a, b in queries for i in (a, b)))
        try:
            payloads = [json.loads(store.item(i)) for i in items]
            prompt = str(payloads[0]["prompt"]).strip()
            completions = [str(p["completion"]) for p in payloads]
            ended = [bool(p.get("ended", True)) for p in payloads]
        except (StoreError, ValueError, KeyError, TypeError) as exc:
            self.messages.append(f"ranking {group}: its items are not text completions ({exc}); skipped")
            return None
        return Ranking(group, queries, items, prompt, completions, ended)


class RankView(TextView):
    """The prompt across the top and the K completions in a grid, each with its number and, once chosen, its place."""

    help = HELP
    noun = "ranking"
    ranks = True
    """Answered by ordering all completions, not by picking one of two."""

    def __init__(self, store: LabelStore, annotator: str, k: int, column: tuple[int, int], source: SourceConfig | None):
        self.source = RankSource(store.path, annotator, source)  # type: ignore[assignment]
        self.k = k
        self.column = column
        self.pair: Ranking | None = None  # type: ignore[assignment]
        self.order: list[int] = []
        """Shown positions chosen so far, best first."""
        self.prompt_lines: list[str] = []
        self.lines = tuple([] for _ in range(k))  # type: ignore[assignment]
        self._blocks: dict[str, tuple[list[str], list, int]] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(str(i + 1) for i in range(self.k))

    def show(self, pair: Ranking | None) -> None:  # type: ignore[override]
        self.pair = pair
        self.order = []
        self._blocks = {}
        self.prompt_lines = []

    def draw_side(self, screen, side: int, rect, loop_time: float) -> bool:  # type: ignore[no-untyped-def]
        """One completion in its panel, its number top-left and its place, once chosen, top-right."""
        pair = self.pair
        if pair is None or side >= len(pair.completions):
            return False
        import pygame as pg

        note = font(SIZES[-2])
        pg.draw.rect(screen, PANEL, rect)
        ended = pair.ended[side]
        self.lines[side][:] = self._block(screen, str(side), pair.completions[side], rect, TEXT,
                                          note.get_linesize() + (0 if ended else note.get_linesize()))  # fmt: skip
        tag = note.render(f"[{side + 1}]", True, PROMPT)
        screen.blit(tag, (rect.right - tag.get_width() - 6, rect.bottom - tag.get_height() - 4))
        if side in self.order:
            place = note.render("best" if self.order.index(side) == 0 else f"#{self.order.index(side) + 1}", True,
                                (120, 220, 120))  # fmt: skip
            screen.blit(place, (rect.x + 6, rect.bottom - place.get_height() - 4))
        if not ended:
            cut = note.render("(cut off at the length limit)", True, CUT)
            screen.blit(cut, (rect.x + 6, rect.bottom - 2 * note.get_linesize()))
        return True
