"""The labelling window: two clips loop side by side; a key (or a click) says which is better.

Every label is committed to the run's SQLite store before the next pair is shown. Pairs are prepared by a
`PairSource` thread, so the window keeps drawing while clips render or the trainer writes.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prefrl.control.clips import ClipConfig
from prefrl.core.comparisons import Choice
from prefrl.core.store import LabelStore
from prefrl.errors import PrefrlError
from prefrl.ui.pairs import Pair, PairSource, SourceConfig

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
DEFAULT_INSTRUCTION = "Which one moves forward faster?"
HELP = (
    "Left/A: left is better   Right/D: right is better   Up/W: equally good   Down/S: can't tell",
    "U: undo   Space: pause   -/+: speed   R: restart   Q: quit   (or click the better clip)",
)


@dataclass
class WindowConfig:
    clip_size: int = 384
    """On-screen size of each clip, in pixels."""
    fps: int = 60
    source: SourceConfig | None = None
    clip: ClipConfig | None = None


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
        screen = pygame.display.set_mode(size)
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
        from prefrl.control import run_folder as rf

        self.run_dir = Path(run_dir)
        self.annotator = annotator
        self.config = c = config or WindowConfig()
        self.on_label = on_label
        store_path = self.run_dir / rf.STORE
        if not (self.run_dir / rf.CONFIG).exists() or not store_path.exists():
            raise PrefrlError(f"{self.run_dir} is not a prefrl run folder (needs {rf.CONFIG} and {rf.STORE})")
        self.store = LabelStore(store_path, create=False)
        run_config = rf.read_json(self.run_dir / rf.CONFIG)
        env_id = run_config["env"]
        if c.clip is None:  # re-render lost clips the way the run renders them
            size = int(run_config.get("clip_size", 256))
            c.clip = ClipConfig(
                width=size, height=size, fps=run_config.get("clip_fps"), camera=run_config.get("camera")
            )
        clips_dir = Path(self.store.get_state("clips_dir") or "clips")
        run_name = self.store.get_state("run_name") or self.run_dir.name
        self.instruction = self.store.get_state("instruction") or DEFAULT_INSTRUCTION
        self.source = PairSource(
            store_path, annotator, env_id, run_name, clips_dir, c.clip or ClipConfig(), c.source or SourceConfig()
        )
        import pygame

        self.pg = pygame
        size = c.clip_size
        self.margin = 24
        self.top = 64
        self.rects = (
            pygame.Rect(self.margin, self.top, size, size),
            pygame.Rect(2 * self.margin + size, self.top, size, size),
        )
        width, height = 3 * self.margin + 2 * size, self.top + size + 120
        self.screen = open_display((width, height), f"prefrl label - {run_name} - {annotator}")
        self.font = pygame.font.SysFont(None, 30)
        self.small = pygame.font.SysFont(None, 22)
        self.clock = pygame.time.Clock()
        self.current: Pair | None = None
        self.surfaces: tuple[list, list] = ([], [])
        self.speed_index = SPEEDS.index(1.0)
        self.paused = False
        self.loop_time = 0.0
        self.opened = time.time()
        self.given = 0  # labels from this window that stand (undo takes one back)
        self.running = True
        self._stats = {"labels": 0, "remaining": "?", "available": 0, "trainer": "-"}
        self._stats_at = 0.0
        self._last_tick = time.time()
        self.message = ""
        self.history: deque[Pair] = deque(maxlen=20)  # labelled pairs, so undo shows its pair again at once
        self._awaiting: int | None = None  # an undone query not in history, being reloaded

    # -- pairs -------------------------------------------------------------------------------------------------
    def _show(self, pair: Pair | None) -> None:
        self.current = pair
        self.loop_time = 0.0
        if pair is None:
            self.surfaces = ([], [])
            return
        size = (self.config.clip_size, self.config.clip_size)
        pg = self.pg

        def surfaces(frames):  # type: ignore[no-untyped-def]
            return [pg.transform.scale(pg.surfarray.make_surface(f.swapaxes(0, 1)), size) for f in frames]

        self.surfaces = (surfaces(pair.frames_a), surfaces(pair.frames_b))
        if not pair.shown:
            self.store.mark_shown(pair.query_id)
            pair.shown = True

    def label(self, choice: Choice) -> None:
        """Commit the label for the pair on screen, then show the next one."""
        pair = self.current
        if pair is None:
            return
        self.store.answer(pair.query_id, choice, annotator=self.annotator)  # on disk before anything else happens
        self.source.answered(pair.query_id)
        self.given += 1
        self._stats_at = 0.0
        self.history.append(pair)
        if self.on_label is not None:
            self.on_label(pair.query_id, choice)
        self._show(self.source.next())

    def undo(self) -> None:
        query = self.store.undo_last(self.annotator, lease_s=self.source.config.lease_s)
        if query is None:
            self.message = "nothing to undo"
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
            self.source.reload(query)
            self._awaiting = query[0]
        self.message = f"undid the label of query {query[0]}"

    # -- events ------------------------------------------------------------------------------------------------
    def handle(self, event) -> None:  # type: ignore[no-untyped-def]
        pg = self.pg
        if event.type == pg.QUIT:
            self.running = False
        elif event.type == pg.MOUSEBUTTONDOWN and event.button == 1:
            if self.rects[0].collidepoint(event.pos):
                self.label(Choice.LEFT)
            elif self.rects[1].collidepoint(event.pos):
                self.label(Choice.RIGHT)
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
            elif key == pg.K_SPACE:
                self.paused = not self.paused
            elif key in (pg.K_MINUS, pg.K_KP_MINUS):
                self.speed_index = max(0, self.speed_index - 1)
            elif key in (pg.K_PLUS, pg.K_EQUALS, pg.K_KP_PLUS):
                self.speed_index = min(len(SPEEDS) - 1, self.speed_index + 1)
            elif key == pg.K_r:
                self.loop_time = 0.0
            elif key in (pg.K_ESCAPE, pg.K_q):
                self.running = False

    # -- one frame -----------------------------------------------------------------------------------------------
    def step(self) -> bool:
        """Handle pending events, advance the clips, draw. Returns False once the person quits."""
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
        if self.current is not None and not self.paused:
            self.loop_time = (self.loop_time + elapsed * SPEEDS[self.speed_index]) % max(self.current.duration, 1e-3)
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
        budget = s.get_state("budget")
        labels = s.count_labels()
        self._stats = {
            "labels": labels,
            "remaining": max(0, int(budget) - labels - s.count_queries("skipped")) if budget else "?",
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

    def _frame_index(self, n: int, fps: float) -> int:
        return min(int(self.loop_time * fps), n - 1)

    def draw(self) -> None:
        pg, screen = self.pg, self.screen
        screen.fill((24, 24, 28))
        title = self.font.render(self.instruction, True, (240, 240, 240))
        screen.blit(title, ((screen.get_width() - title.get_width()) // 2, 20))
        pair = self.current
        for side, rect in enumerate(self.rects):
            pg.draw.rect(screen, (60, 60, 66), rect.inflate(4, 4), 2)
            frames = self.surfaces[side]
            if pair is None or not frames:
                text = self.small.render("waiting for clips...", True, (160, 160, 160))
                screen.blit(text, text.get_rect(center=rect.center))
                continue
            fps = pair.fps_a if side == 0 else pair.fps_b
            i = self._frame_index(len(frames), fps)
            screen.blit(frames[i], rect)
            if i == len(frames) - 1 and len(frames) / fps < pair.duration - 1e-6:
                end = self.small.render("episode ended", True, (255, 120, 120))
                screen.blit(end, (rect.x + 6, rect.y + 6))
        y = self.top + self.config.clip_size + 14
        state = f"speed {SPEEDS[self.speed_index]:g}x" + ("  (paused)" if self.paused else "")
        if pair is not None:
            state += f"  |  query {pair.query_id}"
        note = self.message or (self.source.messages[-1] if self.source.messages else "")
        if self.source.error:
            note = f"clip loader stopped: {self.source.error}"
        for line, colour in (
            (self.status_line(), (220, 220, 120)),
            (state + ("  |  " + note if note else ""), (180, 180, 180)),
            (HELP[0], (140, 140, 150)),
            (HELP[1], (140, 140, 150)),
        ):
            surf = self.small.render(line, True, colour)
            screen.blit(surf, (self.margin, y))
            y += 24
        pg.display.flip()

    def screenshot(self, path: str | Path) -> None:
        self.pg.image.save(self.screen, str(path))
