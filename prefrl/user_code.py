"""Code of the user's own, named on the command line as `package.module:name` (an env class, a teacher).

A run folder records such a name, but a run folder alone never makes prefrl import it: the command line must name
it again (`check_named_again`).
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from prefrl.errors import PrefrlError


def is_code_spec(spec: str) -> bool:
    """'package.module:name' names code to import; 'Hopper-v5', 'prefrl/Hopper-v0' and 'perfect' do not."""
    module, sep, attr = spec.partition(":")
    return bool(sep) and bool(re.fullmatch(r"[A-Za-z_][\w.]*", module)) and attr.isidentifier()


def load(spec: str, flag: str) -> Any:
    """The object `spec` names, or a one-line error naming the flag it came from."""
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise PrefrlError(f"cannot import {module!r} for {flag} {spec} ({exc}); is it on PYTHONPATH?") from None
    except AttributeError:
        raise PrefrlError(f"module {module!r} has no {attr!r}; {flag} takes module:name") from None


def spec_of(obj: Any, flag: str) -> str:
    """'module:name' for a class or function of the user's own that can be imported by that name (and so recorded
    in a run folder, and named again on a command line); a one-line error for one that cannot (a lambda, a nested
    function, an instance)."""
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    spec = f"{module}:{name}"
    if module and name and is_code_spec(spec):
        try:
            if load(spec, flag) is obj:
                return spec
        except PrefrlError:
            pass
    raise PrefrlError(
        f"{flag} {obj!r} cannot be named in a run folder: define it at the top level of a module (module:name)"
    )


def check_named_again(saved: str, given: str | None, run: Path, flag: str = "--env") -> None:
    """A run folder alone never makes prefrl import code: user code its config names (module:name, an env or a
    teacher) is imported only when the command line names it too."""
    if is_code_spec(saved) and given != saved:
        raise PrefrlError(
            f"{run} was run on your own code ({saved}); prefrl imports it only when the command line names it "
            f"again: add {flag} {saved}"
        )
