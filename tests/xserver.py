"""A real X server (Xvfb) for window tests, and screenshots read back from it with xwd."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def start_xvfb() -> tuple[subprocess.Popen, str]:
    """A new Xvfb on a display number it picks itself (-displayfd), so servers started at once by parallel test
    workers never share one."""
    read, write = os.pipe()
    try:
        proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write,),
        )
    finally:
        os.close(write)
    with os.fdopen(read) as numbers:
        number = numbers.readline().strip()  # written once the server is ready; empty if it exited
    if not number.isdigit():
        proc.kill()
        raise RuntimeError("could not start Xvfb")
    return proc, f":{number}"


@contextmanager
def xvfb() -> Iterator[str]:
    """A display name for the duration of the block; the server is stopped with terminate, never kill, because a
    killed Xvfb leaves its lock file behind and the display number stays taken."""
    proc, name = start_xvfb()
    try:
        yield name
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def have_x_tools() -> bool:
    return all(shutil.which(tool) for tool in ("Xvfb", "xwd", "xwininfo", "xdotool"))


def find_window(display: str, name: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process that should open {name!r} exited with {proc.returncode}")
        tree = subprocess.run(
            ["xwininfo", "-root", "-tree"], capture_output=True, text=True, env={"DISPLAY": display}
        ).stdout
        for line in tree.splitlines():
            if f'"{name}' in line:
                return line.split()[0]
        time.sleep(0.2)
    raise TimeoutError(f"no window named {name!r} appeared on {display}")


def screenshot(display: str, window: str) -> np.ndarray:
    """(H, W, 3) uint8 pixels of an X window as the X server holds them (xwd, ZPixmap, 24/32-bit TrueColor)."""
    raw = subprocess.run(
        ["xwd", "-silent", "-id", window], capture_output=True, check=True, env={"DISPLAY": display}
    ).stdout
    header = np.frombuffer(raw[:100], dtype=">u4")
    header_size, width, height = int(header[0]), int(header[4]), int(header[5])
    byte_order, bits_per_pixel, bytes_per_line, ncolors = (int(header[i]) for i in (7, 11, 12, 19))
    assert bits_per_pixel == 32, f"expected a 32-bit visual, got {bits_per_pixel}"
    start = header_size + 12 * ncolors
    pixels = np.frombuffer(raw[start : start + bytes_per_line * height], dtype=np.uint8)
    pixels = pixels.reshape(height, bytes_per_line)[:, : 4 * width].reshape(height, width, 4)
    return pixels[..., [2, 1, 0]] if byte_order == 0 else pixels[..., [1, 2, 3]]


def screenshot_when_shown(
    display: str, window: subprocess.Popen, store_path: Path, show_timeout: float, settle_s: float,
    find_timeout: float = 120.0,
) -> np.ndarray:  # fmt: skip
    """The labelling window's pixels once its first pair is on screen (and the status line has had `settle_s` to
    refresh); the window process is stopped either way."""
    from prefrl.core.store import LabelStore

    try:
        wid = find_window(display, "prefrl label", timeout=find_timeout, proc=window)
        store = LabelStore(store_path, create=False)
        deadline = time.time() + show_timeout
        while store.count_shown() == 0:
            assert time.time() < deadline, "no pair was shown"
            time.sleep(0.1)
        time.sleep(settle_s)
        return screenshot(display, wid)
    finally:
        window.terminate()
        window.wait(timeout=30)
