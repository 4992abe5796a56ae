"""How a text run's pair looks in the labelling window: the prompt on top, the two completions side by side.

Completions are short (at most ~64 tokens), so each is word-wrapped to its column and, should it not fit, drawn in
the largest smaller font that does: a person never scrolls. The items' gold scores and sources are never shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prefrl.core.store import LabelStore
from prefrl.ui.source import SourceConfig
from prefrl.ui.text_pairs import TextPair, TextPairSource

if TYPE_CHECKING:
    from pygame.font import Font

DEFAULT_INSTRUCTION = "Which completion is better?"
HELP = (
    "Left/A: A is better   Right/D: B is better   Up/W: equally good   Down/S: can't tell",
    "U: undo   Q: quit   (or click the better completion)",
)
FACES = "dejavusans,liberationsans,notosans,arial,helvetica"  # pygame's own font where none is installed
SIZES = (22, 20, 18, 16, 14, 12)
PAD = 12
PANEL, TEXT, PROMPT, CUT = (34, 34, 40), (235, 235, 235), (170, 200, 255), (255, 120, 120)

_fonts: dict[int, Font] = {}


def font(size: int) -> Font:
    """A readable sans-serif font of that pixel size (loaded once)."""
    import pygame

    if not pygame.font.get_init():  # fonts loaded before a pygame.quit() are dead
        pygame.font.init()
        _fonts.clear()
    if size not in _fonts:
        _fonts[size] = pygame.font.SysFont(FACES, size)
    return _fonts[size]


def wrap(text: str, face: Font, width: int) -> list[str]:
    """Greedy word wrap to `width` pixels. Line breaks in the text are kept; a word wider than a line is split."""
    lines = []
    for paragraph in text.strip().split("\n"):
        line = ""
        for word in paragraph.split():
            while face.size(word)[0] > width:
                cut = max([1] + [n for n in range(1, len(word)) if face.size(word[:n])[0] <= width])
                if line:
                    lines.append(line)
                    line = ""
                lines.append(word[:cut])
                word = word[cut:]
            candidate = f"{line} {word}" if line else word
            if face.size(candidate)[0] <= width:
                line = candidate
            else:
                lines.append(line)
                line = word
        lines.append(line)
    return lines


def fit(text: str, width: int, height: int) -> tuple[Font, list[str]]:
    """The largest font whose wrap of `text` to `width` fits in `height`, with its lines (the smallest if none fits)."""
    for size in SIZES:
        face = font(size)
        lines = wrap(text, face, width)
        if len(lines) * face.get_linesize() <= height:
            break
    return face, lines


class TextView:
    """Wraps the prompt across the window and each completion into its column; nothing moves, nothing scrolls."""

    instruction = DEFAULT_INSTRUCTION
    help = HELP
    noun = "completion"
    plays = False
    """Text stands still: pause, speed and restart have nothing to act on."""
    header_height = 88
    """Room above the columns for the prompt."""

    def __init__(
        self,
        store: LabelStore,
        annotator: str,
        column: tuple[int, int] = (480, 300),
        source: SourceConfig | None = None,
    ) -> None:
        self.source = TextPairSource(store.path, annotator, source)
        self.column = column
        self.pair: TextPair | None = None
        self.prompt_lines: list[str] = []
        self.lines: tuple[list[str], list[str]] = ([], [])
        """The completions as drawn, line by line (filled on the first draw of a pair)."""
        self._blocks: dict[str, tuple[list[str], list, int]] = {}  # lines, their rendered surfaces, line height

    def show(self, pair: TextPair | None) -> None:
        self.pair = pair
        self._blocks = {}
        self.prompt_lines, self.lines = [], ([], [])

    def resize(self, column: tuple[int, int]) -> None:
        """Wrap completions to columns of this size from now on (the window was resized)."""
        self.column = column
        self.show(self.pair)

    def duration(self) -> float:
        return 0.0

    def fps(self) -> float:
        return 0.0

    def _block(self, screen, key: str, text: str, rect, colour, reserve: int = 0) -> list[str]:  # type: ignore[no-untyped-def]
        """Draw `text` wrapped into `rect` (rendered once per pair, blitted every frame); returns its lines."""
        if key not in self._blocks:
            face, lines = fit(text, rect.width - 2 * PAD, rect.height - 2 * PAD - reserve)
            self._blocks[key] = lines, [face.render(line, True, colour) for line in lines], face.get_linesize()
        lines, surfaces, step = self._blocks[key]
        for i, surface in enumerate(surfaces):
            screen.blit(surface, (rect.x + PAD, rect.y + PAD + i * step))
        return lines

    def draw_header(self, screen, rect) -> None:  # type: ignore[no-untyped-def]
        """The prompt both completions answer."""
        if self.pair is None:
            return
        import pygame as pg

        pg.draw.rect(screen, PANEL, rect, border_radius=6)
        self.prompt_lines = self._block(screen, "prompt", self.pair.prompt, rect, PROMPT)

    def draw_side(self, screen, side: int, rect, loop_time: float) -> bool:  # type: ignore[no-untyped-def]
        """One completion, wrapped to its column; a note at the foot if it was cut at the length limit."""
        pair = self.pair
        if pair is None:
            return False
        import pygame as pg

        text, ended = (pair.completion_a, pair.ended_a) if side == 0 else (pair.completion_b, pair.ended_b)
        note = font(SIZES[-2])
        pg.draw.rect(screen, PANEL, rect)
        self.lines[side][:] = self._block(screen, str(side), text, rect, TEXT, 0 if ended else note.get_linesize())
        if not ended:
            cut = note.render("(cut off at the length limit)", True, CUT)
            screen.blit(cut, (rect.x + PAD, rect.bottom - PAD - cut.get_height()))
        return True
