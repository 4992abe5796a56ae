"""MuJoCo's C-level warnings, routed through Python's `warnings` instead of stderr and a MUJOCO_LOG.TXT in the
working folder. The deprecation of `settotalmass`, which gymnasium's own v5 model files use, is dropped: the user
cannot act on it."""

from __future__ import annotations

import warnings

UNACTIONABLE = ("compiler attribute 'settotalmass' is deprecated",)


class MujocoWarning(UserWarning):
    """A warning raised inside MuJoCo's C library."""


def _forward(message: str) -> None:
    if not message.startswith(UNACTIONABLE):
        warnings.warn(message, MujocoWarning, stacklevel=2)


def install() -> None:
    """Route MuJoCo's warnings (a no-op where MuJoCo is not installed)."""
    try:
        import mujoco
    except ImportError:
        return
    mujoco.set_mju_user_warning(_forward)
