"""How a control run's pair looks in the labelling window: two clips looping in time, side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefrl.core.store import LabelStore
from prefrl.media.clips import ClipConfig
from prefrl.ui.pairs import Pair, PairSource, SourceConfig

DEFAULT_INSTRUCTION = "Which one moves forward faster?"
HELP = (
    "Left/A: A is better   Right/D: B is better   Up/W: equally good   Down/S: can't tell",
    "U: undo   Space: pause   ,/. or drag the bar: frame   -/+: speed   R: restart   Q: quit   (or click a clip)",
)


class ClipView:
    """Decodes each pair's clips into surfaces of the on-screen size and draws the frame due at the loop time."""

    instruction = DEFAULT_INSTRUCTION
    help = HELP
    noun = "clip"
    plays = True
    """Clips run in time: pause, speed and restart apply."""
    header_height = 0

    def __init__(
        self,
        store: LabelStore,
        annotator: str,
        run_dir: Path,
        run_config: dict[str, Any],
        clip_size: int,
        clip: ClipConfig | None = None,
        source: SourceConfig | None = None,
    ) -> None:
        if clip is None:  # re-render lost clips the way the run renders them
            size = int(run_config.get("clip_size", clip_size))  # older runs recorded none: the window's own size
            clip = ClipConfig(width=size, height=size, fps=run_config.get("clip_fps"), camera=run_config.get("camera"),
                              steps=run_config.get("segment_length"))  # fmt: skip
        clips_dir = Path(store.get_state("clips_dir") or "clips")
        run_name = store.get_state("run_name") or run_dir.name
        self.source = PairSource(store.path, annotator, run_config["env"], run_name, clips_dir, clip, source)
        shown = min(clip_size, int(run_config.get("clip_size", clip_size)))  # never larger than rendered
        self.column = (shown, shown)
        self.pair: Pair | None = None
        self.surfaces: tuple[list, list] = ([], [])
        self._small = None

    def show(self, pair: Pair | None) -> None:
        import pygame as pg

        self.pair = pair
        if pair is None:
            self.surfaces = ([], [])
            return

        def fitted(made):  # type: ignore[no-untyped-def]
            return made if made.get_size() == self.column else pg.transform.smoothscale(made, self.column)

        made = pair.surfaces or tuple(
            [pg.surfarray.make_surface(f.swapaxes(0, 1)) for f in frames] for frames in (pair.frames_a, pair.frames_b)
        )
        self.surfaces = ([fitted(m) for m in made[0]], [fitted(m) for m in made[1]])

    def resize(self, column: tuple[int, int]) -> None:
        """Show clips at this size from now on (the window was resized)."""
        self.column = column
        self.show(self.pair)

    def duration(self) -> float:
        return self.pair.duration if self.pair is not None else 0.0

    def fps(self) -> float:
        """Frames a second of the faster clip, so a frame step never skips one of its frames."""
        return max(self.pair.fps_a, self.pair.fps_b) if self.pair is not None else 0.0

    def draw_header(self, screen, rect) -> None:  # type: ignore[no-untyped-def]
        """Nothing above clips: the instruction says it all."""

    def draw_side(self, screen, side: int, rect, loop_time: float) -> bool:  # type: ignore[no-untyped-def]
        """Blit the frame due at `loop_time`; False when there is nothing to draw yet."""
        pair, frames = self.pair, self.surfaces[side]
        if pair is None or not frames:
            return False
        import pygame as pg

        fps = pair.fps_a if side == 0 else pair.fps_b
        i = min(int(loop_time * fps), len(frames) - 1)
        screen.blit(frames[i], rect)
        if i == len(frames) - 1 and len(frames) / fps < pair.duration - 1e-6:
            self._small = self._small or pg.font.SysFont(None, 22)
            end = self._small.render("episode ended", True, (255, 120, 120))
            screen.blit(end, (rect.x + 6, rect.y + 6))
        return True
