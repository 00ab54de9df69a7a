"""Find an app (or a worker setup function) by its dotted path: ``"package.module:app"``.

Synopsis: ``app = load_app("examples.worker_app:app")``.

The module is imported the way ``python -m`` would see it from the current
directory (the current directory is put on ``sys.path`` if it is not there),
and the attribute path after ``:`` may be dotted (``module:holder.app``).
"""

from __future__ import annotations

import importlib
import os
import sys

from .._errors import UsageError
from ._app import App


def load_app(target: str) -> App:
    """``app = load_app("examples.worker_app:app")``: the :class:`App` at ``module:attribute``.

    Raises:
        UsageError: the target is malformed, cannot be imported, or is not an App.
    """
    obj = import_target(target, "module:app", "examples.worker_app:app")
    if not isinstance(obj, App):
        raise UsageError(f"{target!r} is a {type(obj).__name__}, not a thoonk_actors App")
    return obj


def import_target(target: str, shape: str, example: str) -> object:
    """The object at ``module:attribute`` (the app, a worker setup function).

    ``shape`` and ``example`` only word the error (``"module:app"``,
    ``"examples.worker_app:app"``).

    Raises:
        UsageError: the target is malformed, or the module or attribute is not there.
    """
    module_name, sep, attribute = target.partition(":") if isinstance(target, str) else ("", "", "")
    if not sep or not module_name or not attribute:
        raise UsageError(f"{target!r} is not {shape!r} (for example {example})")
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import {module_name!r} for {target!r}: {exc}") from exc
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise UsageError(f"module {module_name!r} has no attribute {attribute!r}") from None
    return obj
