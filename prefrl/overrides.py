"""Settings dataclasses and the text they are read from: KEY=VALUE overrides on the command line, converted to the
field's annotated type; values read back from JSON, checked against it; a resumed run's settings against the
command line's."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from prefrl.errors import PrefrlError

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
            item = SCALARS[_item_kind(kind, container)]
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


def _item_kind(kind: str, container: str) -> str:
    """'int' for 'list[int]', 'float' for 'tuple[float, float]'."""
    return kind[len(container) :].split(",")[0].rstrip("]").strip()


def matches(annotation: str, value: Any) -> bool:
    """Whether a value read back from JSON has the type an annotation string names (the forms `convert` reads; a
    float field takes an integer, a tuple field a list)."""
    kinds = [k.strip() for k in annotation.split("|")]
    if value is None:
        return "None" in kinds
    for kind in kinds:
        if kind == "None":
            continue
        if kind == "bool" and isinstance(value, bool):
            return True
        if isinstance(value, bool):
            continue
        if (kind == "int" and isinstance(value, int)) or (kind == "float" and isinstance(value, (int, float))):
            return True
        if kind == "str" and isinstance(value, str):
            return True
        for container in ("list[", "tuple["):
            if kind.startswith(container) and isinstance(value, (list, tuple)):
                if all(matches(_item_kind(kind, container), v) for v in value):
                    return True
    return False


def check_types(cls: type, data: dict[str, Any]) -> None:
    """Refuse (ValueError) a field of `cls` in data whose value has another type than the field's annotation;
    dataclass-valued fields are left to their own class."""
    for f in fields(cls):
        annotation = str(f.type)
        if f.name in data and annotation[:1].islower() and not matches(annotation, data[f.name]):
            raise ValueError(f"{f.name} is {data[f.name]!r}, not {annotation}")


def setting(config: Any, name: str) -> Any:
    """A config field by name, 'reward_model.lr' for a part of a nested one."""
    value: Any = config
    for part in name.split("."):
        value = getattr(value, part)
    return value


def refuse_other_settings(
    out: Path, saved: Any, asked: Any, flags: dict[str, str], may_change: str = "--timesteps and --labels"
) -> None:
    """Refuse in one line when a setting the command line gives differs from the run's saved one.

    flags: the settings given, by field name ('reward_model.lr' for a part of a nested one), with the flag that set
    each ('--seed', '--reward-model lr'). may_change: the options a resume does take, for the message.
    """
    for name, flag in flags.items():
        old, new = setting(saved, name), setting(asked, name)
        if _comparable(old) == _comparable(new):
            continue
        shown = f"other {flag} settings" if hasattr(old, "__dataclass_fields__") else f"{flag} {old}, not {new}"
        raise PrefrlError(
            f"{out} was started with {shown}: a resumed run keeps its settings (only {may_change} may "
            f"change); drop {flag.split()[0]}, or start a new run with --out"
        )


def _comparable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
