"""Run-folder records shared by every domain: JSON written atomically, CSV rows fsynced one by one.

A run killed at any moment leaves either the old file or the new one, and every metrics row it logged.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefrl.errors import PrefrlError


def write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """`write(tmp)` to a temp file of a name no other process uses, fsync it, then rename it over `path`: a reader,
    or a process killed at any instant, sees the old file or the new one, never a part."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_folder_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """`write(tmp)` into a fresh folder beside `path`, fsync its files, then swap it in for `path`: a reader, or a
    process killed at any instant, finds the old folder or the new one (see `recover_folder`), never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    old = _previous(path)
    try:
        write(tmp)
        for f in tmp.rglob("*"):
            if f.is_file():
                with f.open("rb+") as handle:
                    os.fsync(handle.fileno())
        if path.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)  # a kill from here to the next line leaves only `old`, which recover_folder restores
        os.replace(tmp, path)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def recover_folder(path: Path) -> None:
    """Put back the previous version of a folder whose atomic replacement was killed between its two renames."""
    path = Path(path)
    if not path.exists() and _previous(path).exists():
        os.replace(_previous(path), path)


def _previous(path: Path) -> Path:
    return path.with_name(f".{path.name}.previous")


def write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=2, sort_keys=True)
    write_atomic(path, lambda tmp: tmp.write_text(text))


RESTORE = "restore it from a copy, or start a new run"
"""What to do about a damaged record that a run cannot go on without."""


def read_json(path: Path, fix: str = RESTORE) -> dict[str, Any]:
    """A JSON object from a run folder; a damaged one is named in one line with `fix`, what to do about it."""
    try:
        data = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PrefrlError(f"{path} is damaged (not JSON: {exc}); {fix}") from None
    if not isinstance(data, dict):
        raise PrefrlError(f"{path} is damaged (a JSON {type(data).__name__}, not an object); {fix}")
    return data


def append_row(path: Path, fields: list[str], row: dict[str, Any]) -> None:
    """Append one CSV row (header first if the file is new); NaN becomes an empty cell.

    A file written with other columns (a run folder from an older version) is first rewritten with these, its
    rows kept and the new columns left empty, so no row lands under the wrong header.
    """
    new = not path.exists()
    if not new:
        with path.open(newline="") as f:
            header = next(csv.reader(f), [])
        if header != fields:
            with path.open(newline="") as f:
                old = list(csv.DictReader(f))
            write_atomic(path, lambda tmp: write_rows(tmp, fields, old))
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow({k: "" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()})
        f.flush()
        os.fsync(f.fileno())


def write_rows(path: Path, fields: list[str], rows: list[dict[str, Any]]) -> None:
    """A whole CSV: the header, then the rows (call through write_atomic)."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_rows(path: Path, fix: str = RESTORE) -> list[dict[str, float]]:
    """Every row of a numeric CSV as floats (empty cells as NaN); [] when the file does not exist. A damaged file is
    named in one line with `fix`, what to do about it."""
    if not path.exists():
        return []
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        return [{k: float(v) if v not in ("", None) else float("nan") for k, v in r.items()} for r in rows]
    except (UnicodeDecodeError, csv.Error, ValueError, TypeError) as exc:
        raise PrefrlError(f"{path} is damaged ({type(exc).__name__}: {exc}); {fix}") from None


def format_version(data: dict[str, Any], newest: int, what: str = "settings") -> int:
    """Take the format version out of settings read back from JSON (1 where none was recorded), refusing in one line
    a version newer than this prefrl reads rather than guessing at settings it does not know."""
    version = data.pop("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version > newest:
        raise PrefrlError(
            f"{what} written by a newer prefrl (format version {version}; this one reads up to {newest}): "
            "upgrade prefrl to use them"
        )
    return version
