"""Dashboard: the boards of several queues, feeds and workers, laid out in a grid.

Synopsis::

    t = thoonk_actors.sync.connect()
    Dashboard("emails", "news", t=t)                 # by name: registered or found by its keys
    Dashboard(t.job("emails"), t.feed("news"), worker, columns=3)
    Dashboard.everything(t)                          # every job queue, feed and sorted feed

Each part is the object's own view (JobBoard, FeedView, WorkerPanel) with its
own follower; ``close()`` closes them all. Names are looked up with
``t.discover()``: the registries, plus objects only other clients use (the
original JavaScript Thoonk never registers its job queues; their boards say
"unregistered").
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from .._errors import UsageError
from ..contract import Kind
from ..sync import SyncThoonk

_KINDS: tuple[Kind, ...] = ("job", "feed", "sorted_feed")


class Dashboard(widgets.GridBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Several live views in a grid (see the module doc).

    Attributes:
        views: the views, in the order given.
    """

    def __init__(self, *items: Any, t: SyncThoonk | None = None, columns: int = 2) -> None:
        if not items:
            raise UsageError("Dashboard() needs at least one queue, feed or worker")
        if columns < 1:
            raise UsageError("columns must be at least 1")
        resolved = [self._resolve(item, t) for item in items]  # refuse bad names first
        self.views: list[widgets.Widget] = [obj.view() for obj in resolved]
        super().__init__(
            self.views,
            layout=widgets.Layout(
                grid_template_columns=f"repeat({min(columns, len(self.views))}, minmax(0, 1fr))",
                grid_gap="12px",
                width="100%",
            ),
        )

    @classmethod
    def everything(cls, t: SyncThoonk, *, columns: int = 2) -> Dashboard:
        """Every job queue, feed and sorted feed, registered or not (``t.discover()``).

        Raises:
            UsageError: there is none.
        """
        found = t.discover(_KINDS)
        views = [getattr(t, o.kind)(o.name) for o in found.objects]
        if not views:
            raise UsageError("there is no job queue, feed or sorted feed to show yet")
        return cls(*views, columns=columns)

    @staticmethod
    def _resolve(item: Any, t: SyncThoonk | None) -> Any:
        if not isinstance(item, str):
            if not callable(getattr(item, "view", None)):
                raise UsageError(
                    f"Dashboard() takes queue, feed or worker objects or names, not {item!r}"
                )
            return item
        if t is None:
            raise UsageError(f"Dashboard({item!r}): give the connection too, t=connect()")
        found = t.discover(_KINDS)
        for kind in _KINDS:
            if item in found.names(kind):
                return getattr(t, kind)(item)
        raise UsageError(
            f"no job queue or feed named {item!r} was found (registered or by its keys); "
            "pass the object instead (t.job(name), t.feed(name))"
        )

    def close(self) -> None:
        """Close every view and the grid."""
        for view in self.__dict__.get("views", []):  # none if __init__ refused its input
            view.close()
        if self.comm is not None:
            self.layout.close()
        super().close()
