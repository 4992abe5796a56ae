"""The synthetic teachers, ready-made: hand one to `prefrl.Trainer(config, out, teacher=prefrl.teachers.noisy)`.

Each is its preset (`prefrl train --teacher NAME`); a run handed one records it by name and noise settings and is
seeded by the run's own seed, exactly as the command line's run is. `make_teacher(name, beta=..., ...)` makes one
with other settings.
"""

from prefrl.core.teachers import PRESETS, SyntheticOracle, make_teacher

perfect: SyntheticOracle = make_teacher("perfect")
"""Prefers the clip with the higher true return, always."""
noisy: SyntheticOracle = make_teacher("noisy")
"""Boltzmann-rational (beta 1) on per-step mean true reward."""
mistake: SyntheticOracle = make_teacher("mistake")
"""Perfect, but flips 10% of its answers."""
skip: SyntheticOracle = make_teacher("skip")
"""Skips a query when both clips' returns are below 10% of the recent mean."""
equal: SyntheticOracle = make_teacher("equal")
"""Answers equal when the returns are within 10% of the recent mean."""
myopic: SyntheticOracle = make_teacher("myopic")
"""Weights step t of an H-step clip by 0.9^(H-1-t)."""

__all__ = ["PRESETS", "SyntheticOracle", "make_teacher", *PRESETS]
