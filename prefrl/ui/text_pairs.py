"""Text pairs for an RLHF text run: two completions of one prompt, read from the items' JSON payloads.

Reading two rows of the store is fast, but it goes through the same claiming thread as clips, so leases, undo and
several windows on one run behave exactly as they do for clips.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from prefrl.core.store import LabelStore, StoreError
from prefrl.ui.source import QuerySource

__all__ = ["TextPair", "TextPairSource"]


@dataclass
class TextPair:
    """One query ready to show: the prompt and the two completions (the hidden gold score is not carried)."""

    query_id: int
    item_a: int
    item_b: int
    prompt: str
    completion_a: str
    completion_b: str
    ended_a: bool = True
    """False when the completion was cut at the length limit instead of ending by itself."""
    ended_b: bool = True
    shown: bool = False


class TextPairSource(QuerySource[TextPair]):
    """Claims queries and reads their two completions in a thread; the window takes them with `next()`."""

    def prepare(self, store: LabelStore, query: tuple[int, int, int]) -> TextPair | None:
        qid, a, b = query
        try:
            pa, pb = (json.loads(store.item(i)) for i in (a, b))
            pair = TextPair(
                qid, a, b, str(pa["prompt"]).strip(), str(pa["completion"]), str(pb["completion"]),
                bool(pa.get("ended", True)), bool(pb.get("ended", True)),
            )  # fmt: skip
        except (StoreError, ValueError, KeyError, TypeError) as exc:  # a missing item, or not the JSON of a completion
            self.messages.append(f"query {qid}: items {a}, {b} are not text completions ({exc}); skipped")
            return None
        if str(pb["prompt"]).strip() != pair.prompt:
            self.messages.append(f"query {qid} compares completions of different prompts; showing the left one's")
        return pair
