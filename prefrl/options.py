"""Command-line options generated from a settings dataclass: one flag per field, its default and its help taken from
the field itself (its value and the docstring under it), so a setting has one source of truth.

A field's `metadata` may change how it appears: `flag` (another name, e.g. '--clips' for clips_dir), `invert` (a
True-by-default bool given as a flag that sets it False, e.g. '--quiet' for progress), `choices`, `metavar`, and
`help` (instead of the docstring). A field holding another settings dataclass (`settings` names its class where the
default is None) becomes a repeatable KEY=VALUE option (--ppo n_epochs=10). Read back with `values_from`.
"""

from __future__ import annotations

import argparse
import ast
import functools
import inspect
import textwrap
from dataclasses import MISSING, Field, fields, is_dataclass
from pathlib import Path
from typing import Any

from prefrl.overrides import convert, override_type


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """The docstring under each field of a dataclass, as one line of text."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not is_dataclass(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, following in zip(body, body[1:]):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(following, ast.Expr)
                and isinstance(following.value, ast.Constant)
                and isinstance(following.value.value, str)
            ):
                docs[node.target.id] = " ".join(following.value.value.split())
    return docs


def flag_of(f: Field) -> str:
    return f.metadata.get("flag", "--" + f.name.replace("_", "-"))


def _default(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:
        return f.default_factory()
    return None


def _nested(f: Field) -> type | None:
    """The settings dataclass a field holds, if it holds one (ppo: PPOConfig; metadata `settings` names it where the
    default is None)."""
    default = _default(f)
    if is_dataclass(default):
        return type(default)
    return f.metadata.get("settings")


def add_options(parser: argparse.ArgumentParser, cls: type, only: set[str] | None = None) -> None:
    """One option per field of `cls` (or of those named in `only`), in field order."""
    docs = field_docs(cls)
    for f in fields(cls):
        if only is not None and f.name not in only:
            continue
        doc = f.metadata.get("help", docs.get(f.name, ""))
        nested = _nested(f)
        if nested is not None:
            keys = ", ".join(x.name for x in fields(nested))
            parser.add_argument(flag_of(f), dest=f.name, type=override_type(nested), action="append", default=[],
                                metavar="KEY=VALUE", help=_escape(f"{doc} Repeatable; KEY one of {keys}"))  # fmt: skip
            continue
        default = _default(f)
        annotation = str(f.type)
        if annotation == "bool":
            invert = f.metadata.get("invert", False)
            parser.add_argument(flag_of(f), dest=f.name, action="store_false" if invert else "store_true",
                                default=default, help=_escape(doc))  # fmt: skip
            continue
        shown = "" if default is None else f" (default: {default})"
        parser.add_argument(
            flag_of(f), dest=f.name, type=functools.partial(_parse, annotation, flag_of(f)), default=default,
            choices=f.metadata.get("choices"), metavar=f.metadata.get("metavar"), help=_escape(doc + shown),
        )  # fmt: skip


def _parse(annotation: str, flag: str, text: str) -> Any:
    if annotation in ("Path", "pathlib.Path"):
        return Path(text)
    try:
        return convert(annotation, text)
    except (ValueError, KeyError, StopIteration):
        kind = annotation.replace(" | None", "")
        raise argparse.ArgumentTypeError(f"{flag} takes {'a number' if kind in ('int', 'float') else kind}") from None


def _escape(text: str) -> str:
    return text.replace("%", "%%")


def values_from(args: argparse.Namespace, cls: type, only: set[str] | None = None) -> dict[str, Any]:
    """The fields' values the parsed options give (of those in `only`, if given); a nested settings field as a dict
    of the KEY=VALUE pairs given."""
    out: dict[str, Any] = {}
    for f in fields(cls):
        if (only is not None and f.name not in only) or not hasattr(args, f.name):
            continue
        value = getattr(args, f.name)
        out[f.name] = dict(value) if _nested(f) is not None else value
    return out


def given_options(parser: argparse.ArgumentParser, tokens: list[str]) -> set[str]:
    """The options these tokens give explicitly (a parsed namespace cannot tell a default from the same value given)."""
    unset = object()
    actions = [a for a in parser._actions if a.dest != argparse.SUPPRESS and a.dest != "help"]
    namespace = argparse.Namespace(
        **{a.dest: None if isinstance(a, argparse._AppendAction) else unset for a in actions}
    )
    parser.parse_known_args(tokens, namespace=namespace)
    return {a.dest for a in actions if getattr(namespace, a.dest) not in (unset, None)}


def option_flags(
    parser: argparse.ArgumentParser, dests: set[str], field_of: dict[str, str], args: argparse.Namespace
) -> dict[str, str]:
    """The config fields these given options set, each with its flag ('--seed'; '--reward-model lr' for each key of a
    nested setting's KEY=VALUE list)."""
    flag_of = {a.dest: a.option_strings[0] for a in parser._actions if a.option_strings}
    flags: dict[str, str] = {}
    for dest in sorted(dests):
        value = getattr(args, dest, None)
        if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            field = field_of.get(dest, dest)  # KEY=VALUE parts of a nested setting: each key on its own
            flags.update({f"{field}.{key}": f"{flag_of[dest]} {key}" for key, _ in value})
        else:
            flags[field_of.get(dest, dest)] = flag_of[dest]
    return flags
