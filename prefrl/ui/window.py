"""The labelling window: two clips (a control run) or two completions (a text run) side by side; a key (or a click)
says which is better.

Every label is committed to the run's SQLite store before the next pair is shown. Pairs are prepared by a source
thread that claims queries for this window alone, so the window keeps drawing while clips render or the trainer
writes. Keys, undo, claims and the status line are the same for both kinds of run; a view (`ClipView`, `TextView`)
says only where pairs come from and how one side is drawn.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from prefrl.core.comparisons import Choice
from prefrl.core.store import LabelStore
from prefrl.errors import PrefrlError
from prefrl.media.clips import ClipConfig
from prefrl.ui.clip_view import ClipView
from prefrl.ui.source import QuerySource, SourceConfig
from prefrl.ui.text_ranking import RankView
from prefrl.ui.text_view import TextView

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
SIDES = ("A", "B")
ANSWERS = {Choice.LEFT: "A is better", Choice.RIGHT: "B is better", Choice.EQUAL: "equally good",
           Choice.INCOMPARABLE: "can't tell"}  # fmt: skip
MESSAGE_S = 4.0
"""How long a message (an answer recorded, an undo) stays on screen."""
FLASH_S = 0.35
"""How long the chosen side's frame lights up after an answer."""
FINISHED = ("finished", "stopped")
LOOP_HOLD_S = 0.5
"""Each loop of a pair ends on its last frames for this long (at 1x) before it starts again."""
CONFIG, STORE = "config.json", "labels.sqlite"  # what every run folder holds, control or text (no torch to import)


@dataclass
class WindowConfig:
    clip_size: int = 384
    """Largest on-screen size of each clip, in pixels: a clip is shown at its own size up to this, and smaller only
    when the window is too small for two."""
    text_column: tuple[int, int] = (480, 300)
    """On-screen width and height of each completion of a text run, in pixels."""
    rank_panel: tuple[int, int] = (480, 190)
    """On-screen width and height of each completion of a ranking (two to a row)."""
    fps: int = 60
    source: SourceConfig | None = None
    clip: ClipConfig | None = None


class View(Protocol):
    """What differs between kinds of run: where pairs come from and how they are drawn."""

    source: QuerySource
    instruction: str
    """The question when the run sets none."""
    help: tuple[str, str]
    noun: str
    plays: bool
    """Whether pairs run in time, so that pause, speed and restart apply."""
    header_height: int
    column: tuple[int, int]

    def show(self, pair: Any) -> None: ...
    def duration(self) -> float: ...
    def fps(self) -> float: ...
    def draw_header(self, screen: Any, rect: Any) -> None: ...
    def draw_side(self, screen: Any, side: int, rect: Any, loop_time: float) -> bool: ...


def open_view(run_dir: Path, run_config: dict[str, Any], store: LabelStore, annotator: str, c: WindowConfig) -> View:
    """Clips for a control run (its config names an env), completions for a text run (it names an oracle)."""
    if "env" in run_config:
        return ClipView(store, annotator, run_dir, run_config, c.clip_size, c.clip, c.source)
    if "oracle" in run_config:
        if store.has_groups():  # rank each prompt's completions at once
            return RankView(store, annotator, int(run_config.get("k", 4)), c.rank_panel, c.source)
        return TextView(store, annotator, c.text_column, c.source)
    raise PrefrlError(f"{run_dir / CONFIG} names neither an env (a control run) nor an oracle (a text run)")


def open_display(size: tuple[int, int], caption: str):  # type: ignore[no-untyped-def]
    """A pygame window, or a one-line error that says how to get a display."""
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    # a software framebuffer: SDL's GLX one clashes with an EGL MuJoCo renderer in the same process (BadAccess)
    os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
    import pygame

    try:
        pygame.display.init()
        pygame.font.init()
        screen = pygame.display.set_mode(size, pygame.RESIZABLE)
    except pygame.error as exc:
        raise PrefrlError(
            f"cannot open a window ({exc}); run it on a desktop, set DISPLAY, start it under Xvfb "
            "(xvfb-run prefrl label ...), or set SDL_VIDEODRIVER=dummy for a headless test"
        ) from None
    pygame.display.set_caption(caption)
    return screen


class LabelWindow:
    """One person's window on one run. `run()` loops; tests call `step()` themselves and post events."""

    def __init__(
        self,
        run_dir: str | Path,
        annotator: str,
        config: WindowConfig | None = None,
        on_label: Callable[[int, Choice], None] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.annotator = annotator
        self.config = c = config or WindowConfig()
        self.on_label = on_label
        store_path = self.run_dir / STORE
        if not (self.run_dir / CONFIG).exists() or not store_path.exists():
            raise PrefrlError(f"{self.run_dir} is not a prefrl run folder (needs {CONFIG} and {STORE})")
        self.store = LabelStore(store_path, create=False)
        run_config = json.loads((self.run_dir / CONFIG).read_text())
        run_name = self.store.get_state("run_name") or self.run_dir.name
        self.view = open_view(self.run_dir, run_config, self.store, annotator, c)
        self.source = self.view.source
        self.instruction = self.store.get_state("instruction") or self.view.instruction
        import pygame

        self.pg = pygame
        self.margin = 24
        self.top = 64 + self.view.header_height
        self.largest = self.view.column
        """The sides' size at most: a clip's own size (clips are never scaled up), a text column's set width."""
        self.names: tuple[str, ...] = getattr(self.view, "names", SIDES)
        self.ranking = bool(getattr(self.view, "ranks", False))
        rows = math.ceil(len(self.names) / 2)
        width = 3 * self.margin + 2 * self.largest[0]
        height = self.top + rows * self.largest[1] + (rows - 1) * self.margin + 150
        self.layout(width, height)
        try:
            self.screen = open_display((width, height), f"prefrl label - {run_name} - {annotator}")
        except PrefrlError:  # hand back what the source has claimed already, so other windows get it at once
            self.source.close()
            self.store.close()
            raise
        self.font = pygame.font.SysFont(None, 30)
        self.small = pygame.font.SysFont(None, 22)
        self.clock = pygame.time.Clock()
        self.current: Any = None  # the pair on screen (a clip `Pair` or a `TextPair`)
        self.speed_index = SPEEDS.index(1.0)
        self.paused = False
        self.loop_time = 0.0
        self.scrubbing: int | None = None  # the side whose scrub bar the mouse holds: the clips follow it
        self.opened = time.time()
        self.given = 0  # labels from this window that stand (undo takes one back)
        self.running = True
        self._stats = {"labels": 0, "remaining": "?", "available": 0, "trainer": "-"}
        self._stats_at = 0.0
        self._last_tick = time.time()
        self.message = ""
        self.message_until = 0.0
        self.flash: tuple[Choice, float] | None = None  # the last answer and when its flash ends
        self.history: deque[Any] = deque(maxlen=20)  # labelled pairs, so undo shows its pair again at once
        self._awaiting: int | None = None  # an undone query not in history, being reloaded

    def layout(self, width: int, height: int) -> None:
        """Place the sides (two, or a ranking's K, two to a row) in a window of this size: as large as they are
        made, smaller only to fit."""
        pg, (w0, h0) = self.pg, self.largest
        rows = math.ceil(len(self.names) / 2)
        room = height - self.top - 150 - (rows - 1) * self.margin
        fit = min(1.0, (width - 3 * self.margin) / (2 * w0), room / (rows * h0))
        w, h = max(16, int(w0 * fit)), max(16, int(h0 * fit))
        self.header = pg.Rect(self.margin, 64, w * 2 + self.margin, max(0, self.view.header_height - 16))
        self.rects = tuple(
            pg.Rect(self.margin + (i % 2) * (w + self.margin), self.top + (i // 2) * (h + self.margin), w, h)
            for i in range(len(self.names))
        )
        if (w, h) != self.view.column:
            self.view.resize((w, h))

    # -- pairs -------------------------------------------------------------------------------------------------
    def _show(self, pair: Any) -> None:
        self.current = pair
        self.loop_time = 0.0
        self.view.show(pair)
        if pair is None:
            return
        if not pair.shown:
            for query_id in getattr(pair, "query_ids", [pair.query_id]):
                self.store.mark_shown(query_id, self.annotator, self.source.window)
            pair.shown = True

    def label(self, choice: Choice) -> None:
        """Commit the label for the pair on screen, then show the next one."""
        pair = self.current
        if pair is None:
            return
        self.store.answer(pair.query_id, choice, self.annotator, self.source.window)  # on disk before anything else
        self.source.answered(pair.query_id)
        self.given += 1
        self._stats_at = 0.0
        self.history.append(pair)
        self.flash = (choice, time.time() + FLASH_S)
        self.say(f"query {pair.query_id}: {ANSWERS[choice]} (recorded)")
        if self.on_label is not None:
            self.on_label(pair.query_id, choice)
        self._show(self.source.next())

    def undo(self) -> None:
        query = self.store.undo_last(self.annotator, self.source.config.lease_s, window=self.source.window)
        if query is None:
            self.say("nothing to undo")
            return
        self.given = max(0, self.given - 1)
        self._stats_at = 0.0
        if self.current is not None:
            self.source.put_back(self.current)
        self.source.bring_back(query[0])
        earlier = [p for p in self.history if p.query_id == query[0]]
        if earlier:
            self.history.remove(earlier[-1])
            self._show(earlier[-1])
        else:
            self._show(None)
            self.source.reload(tuple(query[:3]))
            self._awaiting = query[0]
        self.say(f"undid query {query.query_id}: {ANSWERS[query.choice]}; answer it again")

    def pick(self, side: int) -> None:
        """Ranking: the completion at this place is the next best; once all but one are placed, submit with Enter."""
        order = self.view.order  # type: ignore[attr-defined]
        if self.current is None or side >= len(self.current.items) or side in order:
            return
        order.append(side)
        self.say(f"{len(order)} of {len(self.current.items)} placed" + (": Enter submits" if len(order) >= len(
            self.current.items) - 1 else ""))  # fmt: skip

    def submit(self) -> None:
        """Ranking: commit every comparison the order implies, in one transaction, then show the next prompt."""
        ranking, order = self.current, self.view.order  # type: ignore[attr-defined]
        if ranking is None:
            return
        if len(order) < len(ranking.items) - 1:
            self.say(f"place {len(ranking.items) - 1 - len(order)} more before submitting (number keys, best first)")
            return
        self.store.answer_many(ranking.answers(order), self.annotator, self.source.window)  # on disk first
        for query_id in ranking.query_ids:
            self.source.answered(query_id)
        self.given += len(ranking.queries)
        self._stats_at = 0.0
        self.history.append(ranking)
        self.flash = (Choice.EQUAL, time.time() + FLASH_S)
        self.say(f"ranking of prompt {ranking.group} recorded ({len(ranking.queries)} comparisons)")
        if self.on_label is not None:
            for query_id, choice in ranking.answers(order):
                self.on_label(query_id, choice)
        self._show(self.source.next())

    def undo_ranking(self) -> None:
        """Ranking: withdraw the ranking this window submitted last and show it again, to be ranked anew."""
        group = self.store.undo_group(self.annotator, self.source.config.lease_s, window=self.source.window)
        if group is None:
            self.say("nothing to undo")
            return
        queries = self.store.group_queries(group)
        self.given = max(0, self.given - len(queries))
        self._stats_at = 0.0
        if self.current is not None:
            self.source.put_back(self.current)
        for query_id, *_ in queries:
            self.source.bring_back(query_id)
        earlier = [r for r in self.history if r.group == group]
        if earlier:
            self.history.remove(earlier[-1])
            self._show(earlier[-1])
        else:
            self._show(None)
            self.source.reload((group, queries))
            self._awaiting = queries[0][0]
        self.say(f"undid the ranking of prompt {group}; rank it again")

    def say(self, message: str) -> None:
        """Show a message under the clips for `MESSAGE_S` seconds."""
        self.message, self.message_until = message, time.time() + MESSAGE_S

    def note(self) -> str:
        """The line under the clips: a loader failure, else a message that has not expired, else the source's."""
        if self.source.error:
            return f"{self.view.noun} loader stopped: {self.source.error}"
        if self.message and time.time() < self.message_until:
            return self.message
        return self.source.messages[-1] if self.source.messages else ""

    def finished(self) -> bool:
        """Nothing is left for this window: the trainer has ended and no query waits for anyone here."""
        st = self._stats
        return (
            self.current is None and self._awaiting is None and st["trainer"] in FINISHED
            and st["available"] == 0 and self.source.queued() == 0
        )  # fmt: skip

    def waiting_for(self) -> str:
        """Why no pair is on screen, in the trainer's words where it has said what it is doing."""
        st = self._stats
        if self.finished():
            return "nothing left to label"
        if st["available"] or self.source.queued():
            return f"{self.view.noun}s being prepared"
        if st["trainer"] == "no trainer":
            return "no trainer has asked for labels yet"
        return f"nothing asked for yet (trainer: {st['trainer']})"

    # -- events ------------------------------------------------------------------------------------------------
    def handle(self, event) -> None:  # type: ignore[no-untyped-def]
        pg = self.pg
        if event.type == pg.QUIT:
            self.running = False
        elif event.type == pg.VIDEORESIZE:
            self.screen = pg.display.get_surface()
            self.layout(event.w, event.h)
        elif event.type == pg.MOUSEBUTTONDOWN and event.button == 1 and self._on_scrub_bar(event.pos):
            self.scrubbing = self._on_scrub_bar(event.pos) - 1  # the side whose bar is held
            self._scrub_to(self.scrubbing, event.pos[0])
        elif event.type == pg.MOUSEMOTION and self.scrubbing is not None:
            self._scrub_to(self.scrubbing, event.pos[0])
        elif event.type == pg.MOUSEBUTTONUP and event.button == 1:
            self.scrubbing = None
        elif event.type == pg.MOUSEBUTTONDOWN and event.button == 1:
            hit = [i for i, rect in enumerate(self.rects) if rect.collidepoint(event.pos)]
            if hit and self.ranking:
                self.pick(hit[0])
            elif hit:
                self.label((Choice.LEFT, Choice.RIGHT)[hit[0]])
        elif event.type == pg.KEYDOWN and self.ranking:
            self._rank_key(event.key)
        elif event.type == pg.KEYDOWN:
            key = event.key
            choices = {
                pg.K_LEFT: Choice.LEFT, pg.K_a: Choice.LEFT,
                pg.K_RIGHT: Choice.RIGHT, pg.K_d: Choice.RIGHT,
                pg.K_UP: Choice.EQUAL, pg.K_w: Choice.EQUAL,
                pg.K_DOWN: Choice.INCOMPARABLE, pg.K_s: Choice.INCOMPARABLE,
            }  # fmt: skip
            if key in choices:
                self.label(choices[key])
            elif key in (pg.K_BACKSPACE, pg.K_u):
                self.undo()
            elif key in (pg.K_ESCAPE, pg.K_q):
                self.running = False
            elif self.view.plays:
                self._playback(key)

    def _on_scrub_bar(self, pos: tuple[int, int]) -> int:
        """1 + the side whose scrub bar (give or take a few pixels) is under `pos`; 0 where none is."""
        if self.current is None or not self.view.plays or self.ranking:
            return 0
        near = (side + 1 for side in range(len(self.rects)) if self.scrub_bar(side).inflate(0, 8).collidepoint(pos))
        return next(near, 0)

    def _rank_key(self, key: int) -> None:
        pg = self.pg
        digits = {getattr(pg, f"K_{n}"): n - 1 for n in range(1, 10)} | {
            getattr(pg, f"K_KP{n}"): n - 1 for n in range(1, 10)
        }
        if key in digits:
            self.pick(digits[key])
        elif key in (pg.K_RETURN, pg.K_KP_ENTER):
            self.submit()
        elif key == pg.K_BACKSPACE and self.view.order:  # type: ignore[attr-defined]
            self.view.order.pop()  # type: ignore[attr-defined]
        elif key in (pg.K_BACKSPACE, pg.K_u):
            self.undo_ranking()
        elif key in (pg.K_ESCAPE, pg.K_q):
            self.running = False

    def loop_length(self) -> float:
        """Seconds of one loop: the clips, then a hold on their last frames."""
        return max(self.view.duration(), 1e-3) + LOOP_HOLD_S

    def scrub_bar(self, side: int) -> Any:
        """The bar under a clip that shows where the loop is; pressing or dragging on it moves the clips there."""
        rect = self.rects[side]
        return self.pg.Rect(rect.x, rect.bottom + 3, rect.width, 4)

    def _scrub_to(self, side: int, x: int) -> None:
        """Pause the clips at the point of `side`'s scrub bar under `x` (both clips share one time)."""
        bar = self.scrub_bar(side)
        self.paused = True
        self.loop_time = min(max((x - bar.x) / max(bar.width, 1), 0.0), 1.0) * self.view.duration()

    def _playback(self, key: int) -> None:
        pg = self.pg
        if key in (pg.K_COMMA, pg.K_PERIOD):  # one frame back or on, paused there
            self.paused = True
            step = 1.0 / max(self.view.fps(), 1e-3)
            self.loop_time = min(
                max(self.loop_time + (step if key == pg.K_PERIOD else -step), 0.0), self.view.duration()
            )
        elif key == pg.K_SPACE:
            self.paused = not self.paused
        elif key in (pg.K_MINUS, pg.K_KP_MINUS):
            self.speed_index = max(0, self.speed_index - 1)
        elif key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS):
            self.speed_index = min(len(SPEEDS) - 1, self.speed_index + 1)
        elif key == pg.K_r:
            self.loop_time = 0.0

    # -- one frame -----------------------------------------------------------------------------------------------
    def step(self) -> bool:
        """Handle pending events, advance the clips (if any), draw. Returns False once the person quits."""
        now = time.time()
        elapsed, self._last_tick = now - self._last_tick, now
        for event in self.pg.event.get():
            self.handle(event)
            if not self.running:
                return False
        if self.current is None:
            if self._awaiting is not None:
                pair = self.source.take(self._awaiting)
                if pair is not None:
                    self._awaiting = None
                    self._show(pair)
            else:
                self._show(self.source.next())
        if self.current is not None and self.view.plays and not self.paused:
            self.loop_time = (self.loop_time + elapsed * SPEEDS[self.speed_index]) % self.loop_length()
        self._refresh_stats()
        self.draw()
        return True

    def run(self) -> None:
        try:
            while self.step():
                self.clock.tick(self.config.fps)
        finally:
            self.close()

    def close(self) -> None:
        self.source.close()
        self.store.close()
        self.pg.display.quit()

    # -- drawing -------------------------------------------------------------------------------------------------
    def _refresh_stats(self) -> None:
        if time.time() - self._stats_at < 1.0:
            return
        self._stats_at = time.time()
        s = self.store
        budget = s.get_state("budget")  # a text run has none: what it still asks for is what is pending
        labels = s.count_labels()
        remaining = max(0, int(budget) - labels - s.count_queries("skipped")) if budget else s.count_queries("pending")
        self._stats = {
            "labels": labels,
            "remaining": remaining,
            "available": s.count_available(self.annotator),
            "trainer": s.get_state("trainer") or "no trainer",
        }

    def status_line(self) -> str:
        st = self._stats
        minutes = max((time.time() - self.opened) / 60, 1e-9)
        rate = self.given / minutes if time.time() - self.opened > 5 else 0.0
        return (
            f"labels {st['labels']} given ({self.given} here), {st['remaining']} still asked for  |  "
            f"{rate:.1f}/min  |  queue {self.source.queued()} ready, {st['available']} waiting  |  "
            f"trainer: {st['trainer']}"
        )

    def draw(self) -> None:
        pg, screen = self.pg, self.screen
        screen.fill((24, 24, 28))
        title = self.font.render(self.instruction, True, (240, 240, 240))
        screen.blit(title, ((screen.get_width() - title.get_width()) // 2, 20))
        pair, view = self.current, self.view
        if view.header_height:
            view.draw_header(screen, self.header)
        flashing = self.flash is not None and time.time() < self.flash[1]
        lit = {Choice.LEFT: (0,), Choice.RIGHT: (1,), Choice.EQUAL: (0, 1)}.get(self.flash[0], ()) if flashing else ()
        if flashing and self.ranking:
            lit = tuple(range(len(self.rects)))
        done = self.finished()
        for side, rect in enumerate(self.rects):
            frame, width = ((120, 220, 120), 4) if side in lit else ((60, 60, 66), 2)
            pg.draw.rect(screen, frame, rect.inflate(2 * width, 2 * width), width)
            if pair is not None and view.plays:  # where the loop is: the bar fills as the clips play
                shown = min(self.loop_time / max(view.duration(), 1e-3), 1.0)
                bar = self.scrub_bar(side)
                pg.draw.rect(screen, (60, 60, 66), bar)
                pg.draw.rect(screen, (150, 150, 200), pg.Rect(bar.x, bar.y, int(bar.width * shown), bar.height))
            if not self.ranking:  # a ranking's panels carry their numbers themselves
                name = self.font.render(self.names[side], True, (200, 200, 210))
                screen.blit(name, name.get_rect(midtop=(rect.centerx, rect.bottom + 8)))
            if pair is not None and not view.draw_side(screen, side, rect, self.loop_time):
                text = self.small.render(f"loading the {view.noun}...", True, (160, 160, 160))
                screen.blit(text, text.get_rect(center=rect.center))
        if done:
            self._draw_end_screen()
        elif pair is None:
            text = self.small.render(f"waiting: {self.waiting_for()}", True, (170, 170, 170))
            screen.blit(text, text.get_rect(center=self.rects[0].unionall(self.rects[1:]).center))
        y = self.rects[-1].bottom + 40
        state = [f"speed {SPEEDS[self.speed_index]:g}x" + ("  (paused)" if self.paused else "")] if view.plays else []
        if pair is not None:
            state.append(f"query {pair.query_id}")
        note = self.note()
        for line, colour in (
            (self.status_line(), (220, 220, 120)),
            ("  |  ".join(state + ([note] if note else [])), (180, 180, 180)),
            (view.help[0], (140, 140, 150)),
            (view.help[1], (140, 140, 150)),
        ):
            surf = self.small.render(line, True, colour)
            screen.blit(surf, (self.margin, y))
            y += 24
        pg.display.flip()

    def _draw_end_screen(self) -> None:
        pg, screen = self.pg, self.screen
        box = self.rects[0].unionall(self.rects[1:]).inflate(-8, -8)
        pg.draw.rect(screen, (34, 34, 40), box)
        lines = [
            ("Nothing left to label", self.font, (240, 240, 240)),
            (f"the trainer has {self._stats['trainer']}; labels given in this window: {self.given}, all saved",
             self.small, (200, 200, 200)),
            ("press Esc or Q to close", self.small, (160, 160, 170)),
        ]  # fmt: skip
        y = box.centery - 40
        for text, font, colour in lines:
            surf = font.render(text, True, colour)
            screen.blit(surf, surf.get_rect(midtop=(box.centerx, y)))
            y += surf.get_height() + 12

    def screenshot(self, path: str | Path) -> None:
        self.pg.image.save(self.screen, str(path))
