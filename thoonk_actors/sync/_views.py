"""Which widget ``view()`` makes for which object: a registry the widgets fill.

Synopsis: ``register_view("job", JobBoard)`` (done by :mod:`thoonk_actors.widgets`
when it is imported); ``make_view("job", sync_job)``.

Why a registry: the widgets depend on the facade, so the facade must not
import them — ``import thoonk_actors.sync`` works without ipywidgets and
without loading a widget. The first ``view()`` looks the widgets module up by
name, which registers them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

#: The module that registers the widgets (imported on the first ``view()``).
VIEWS_MODULE = "thoonk_actors.widgets"
#: What to run when the widgets' library is missing.
INSTALL_HINT = "pip install 'thoonk-actors[notebook]'"
_VIEWS: dict[str, Callable[[Any], Any]] = {}


def register_view(kind: str, factory: Callable[[Any], Any]) -> None:
    """``register_view("job", JobBoard)``: what ``view()`` of that kind of object makes.

    Kinds: ``job``, ``feed``, ``sorted_feed``, ``queue``, ``worker``. The
    widgets register themselves when :mod:`thoonk_actors.widgets` is
    imported; the facade never imports them (the dependency goes one way:
    widgets use the facade).
    """
    _VIEWS[kind] = factory


def make_view(kind: str, obj: Any) -> Any:
    """The registered widget for ``obj`` (imports the widgets module once, by name).

    Raises:
        ImportError: the notebook extra (ipywidgets) is not installed; the
            message says what to install.
        NotImplementedError: no widget for this kind of object.
    """
    factory = _VIEWS.get(kind)
    if factory is None:
        try:
            importlib.import_module(VIEWS_MODULE)  # a lookup by name, not an import edge
        except ModuleNotFoundError as exc:
            if exc.name is None or exc.name.startswith(VIEWS_MODULE):
                raise
            raise ImportError(
                f"view() shows an ipywidgets widget, and {exc.name!r} is not installed: "
                f"{INSTALL_HINT} (then restart the kernel)",
                name=exc.name,
            ) from exc
        factory = _VIEWS.get(kind)
    if factory is None:
        raise NotImplementedError(f"no widget for a {kind or type(obj).__name__} yet")
    return factory(obj)
