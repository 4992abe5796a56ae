"""KEY=VALUE overrides of a settings dataclass on the command line, converted to the field's annotated type."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import fields
from typing import Any

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
SCALARS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str}


def _boolean(value: str) -> bool:
    if value.lower() not in TRUE + FALSE:
        raise ValueError(value)
    return value.lower() in TRUE


def convert(annotation: str, value: str) -> Any:
    """VALUE as the type an annotation string names: int, float, str, bool, list[int], tuple[float, float], X | None."""
    kinds = [k.strip() for k in annotation.split("|")]
    if "None" in kinds and value.lower() == "none":
        return None
    kind = next(k for k in kinds if k != "None")
    if kind == "bool":
        return _boolean(value)
    for container, build in (("list[", list), ("tuple[", tuple)):
        if kind.startswith(container):
            item = SCALARS[kind[len(container) :].split(",")[0].rstrip("]").strip()]
            return build(item(v) for v in value.split(","))
    return SCALARS[kind](value)


def override_type(cls: type) -> Callable[[str], tuple[str, Any]]:
    """An argparse `type=` for KEY=VALUE, KEY a field of the dataclass `cls` (e.g. --ppo n_epochs=10)."""
    annotations = {f.name: str(f.type) for f in fields(cls)}

    def parse(text: str) -> tuple[str, Any]:
        key, sep, value = text.partition("=")
        if not sep or key not in annotations:
            raise argparse.ArgumentTypeError(f"expected KEY=VALUE with KEY one of {', '.join(annotations)}")
        try:
            return key, convert(annotations[key], value)
        except (ValueError, KeyError, StopIteration):
            raise argparse.ArgumentTypeError(f"{text}: {key} must be {annotations[key]}") from None

    return parse
