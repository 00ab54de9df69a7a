"""What every live widget shares: a background follower, a status line, helpers.

Synopsis: ``class FeedView(LiveWidget): ... self._start(self._follow)``.

The status line shows the *current* state: the follower's failure while it
lasts ("… retrying in 2 s"), cleared as soon as a read succeeds again; the
last action's outcome; and one summary of the warnings the library logged in
the last minute. Those warnings go to :mod:`logging` (see
:class:`WarningSummary`), never as stderr into whatever cell is current.
"""

from __future__ import annotations

import collections
import html
import json
import logging
import re
import threading
import time
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import ipywidgets as widgets
import trio

from .._backoff import BackoffPolicy
from .._errors import ThoonkError
from ..sync import Portal

log = logging.getLogger(__name__)

#: Pauses before restarting a view's follower; a successful read starts them over.
FOLLOW_BACKOFF = BackoffPolicy(first=0.5, maximum=10.0)
#: Seconds a logged warning stays in the status lines' summary.
WARNINGS_WINDOW = 60.0
#: Seconds between two re-draws of a status line (the warnings summary ages).
STATUS_EVERY = 1.0
#: The logger whose warnings the status lines summarise.
LIBRARY_LOGGER = "thoonk_actors"


def parse_item(text: str) -> Any:
    """What a person typed: JSON when it parses, otherwise the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def short_json(value: Any, limit: int = 200) -> str:
    """One line of JSON, cut at ``limit`` characters."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except ValueError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def describe_error(exc: BaseException) -> str:
    """An error as one line of HTML for the status line."""
    kind = type(exc).__name__
    if not isinstance(exc, ThoonkError):
        log.exception("widget action failed", exc_info=exc)
    return f"{html.escape(kind)}: {html.escape(str(exc))}"


class WarningSummary(logging.Handler):
    """Counts the library's warnings for the status lines, while a widget lives.

    Why a handler: with no logging configured, Python prints warnings through
    its last-resort handler to stderr, and in Jupyter that stderr lands in
    whichever cell is current — a widget's cell fills with lines. With this
    handler on the ``thoonk_actors`` logger, the last-resort printer stays
    quiet; warnings still propagate to the handlers you configured
    (``logging.basicConfig()`` shows them as usual), and every widget's status
    line says how many came in the last minute, and the latest.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._recent: collections.deque[tuple[float, str]] = collections.deque(maxlen=1000)
        self._guard = threading.Lock()
        self.users: weakref.WeakSet[LiveWidget] = weakref.WeakSet()

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the warning for the status lines (called by :mod:`logging`)."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break logging
            message = str(record.msg)
        with self._guard:
            self._recent.append((time.monotonic(), message.splitlines()[0] if message else ""))

    def summary(
        self, window: float = WARNINGS_WINDOW, since: float = 0.0
    ) -> tuple[int, str | None]:
        """(warnings in the last ``window`` seconds and after ``since``, the latest of them)."""
        start = time.monotonic() - window
        with self._guard:
            while self._recent and self._recent[0][0] < start:
                self._recent.popleft()
            recent = [message for at, message in self._recent if at >= since]
        return len(recent), (recent[-1] if recent else None)

    # --------------------------------------------------- shared installation

    _lock = threading.Lock()
    _installed: WarningSummary | None = None

    @classmethod
    def attach(cls, widget: LiveWidget) -> WarningSummary:
        """The installed summary (installed now if needed), used by ``widget``."""
        with cls._lock:
            summary = cls._installed
            if summary is None:
                summary = cls._installed = cls()
                logging.getLogger(LIBRARY_LOGGER).addHandler(summary)
            summary.users.add(widget)
            return summary

    @classmethod
    def detach(cls, widget: LiveWidget) -> None:
        """``widget`` is closed; the last one out removes the handler."""
        with cls._lock:
            summary = cls._installed
            if summary is None:
                return
            summary.users.discard(widget)
            if not summary.users:
                logging.getLogger(LIBRARY_LOGGER).removeHandler(summary)
                cls._installed = None


class LiveWidget(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A VBox kept up to date by a task in the connection's background loop.

    Subclasses build their children (``self.status`` among them), call
    ``_start(follow)``, and call ``_healthy()`` after each successful read.
    :meth:`close` closes every widget the view made (``self._owned``), so
    nothing stays in ``ipywidgets.Widget.widgets``.
    """

    status: widgets.HTML

    def __init__(self, children: Sequence[widgets.Widget], *, portal: Portal[Any]) -> None:
        super().__init__(list(children))
        self._portal = portal
        self._scopes: list[trio.CancelScope] = []
        self._problems: dict[str, str] = {}  # what is wrong now, by source
        self._note = ""  # the last action's outcome (html)
        self._note_error = False
        self._backoff = FOLLOW_BACKOFF.start()
        self._warnings_since = time.monotonic()  # a view sums up what came after it opened
        self._closed = False
        self._warnings = WarningSummary.attach(self)
        # No horizontal scrollbar under the view: the output area scrolls
        # sideways for a box even a margin wider than the cell.
        self.layout.overflow = "hidden visible"
        self._show_status()
        self._scopes.append(self._portal.spawn(self._keep_status))

    def _start(self, follow: Callable[[], Awaitable[None]]) -> None:
        """Run ``follow`` in the loop for the widget's life, restarted after errors."""
        self._scopes.append(self._portal.spawn(self._supervise, follow))

    async def _supervise(self, follow: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await follow()
                return
            except Exception as exc:  # shown, then retried: a widget never dies
                delay = self._backoff.next_delay()
                self._set_problem("follow", f"{describe_error(exc)} — retrying in {delay:g} s")
                await trio.sleep(delay)

    def _healthy(self) -> None:
        """A read succeeded: clear the follower's failure (the connection is back)."""
        self._backoff.reset()
        if "follow" in self._problems:
            self._warnings_since = time.monotonic()  # the outage's warnings are over
            self._set_problem("follow", None)
            self._say(f"Connected again at {time.strftime('%H:%M:%S')}.")

    def _set_problem(self, source: str, message: str | None) -> None:
        if message is None:
            if self._problems.pop(source, None) is None:
                return
        else:
            self._problems[source] = message
        self._show_status()

    def _say(self, message: str, *, error: bool = False) -> None:
        self._note, self._note_error = message, error
        self._show_status()

    def _show_status(self) -> None:
        parts = [f'<span style="color:#b00020">{p}</span>' for p in self._problems.values()]
        if self._note:
            color = "#b00020" if self._note_error else "#555"
            parts.append(f'<span style="color:{color}">{self._note}</span>')
        count, latest = self._warnings.summary(since=self._warnings_since)
        if count:
            parts.append(
                f'<span style="color:#8a6d00" title="logger {LIBRARY_LOGGER}">⚠ {count} '
                f"warning{'' if count == 1 else 's'} logged in the last minute; latest: "
                f"{html.escape(latest or '')}</span>"
            )
        value = " · ".join(parts)
        if self.status.value != value:
            self.status.value = value

    async def _keep_status(self) -> None:
        # The warnings summary ages, and so does a plot: re-draw once a second
        # (a value is sent only if it changed).
        while True:
            await trio.sleep(STATUS_EVERY)
            self._check_link()
            self._show_status()
            self._every_second()

    def _check_link(self) -> None:
        """Show an outage as soon as the client's connection is down, clear it when back.

        The client's own reconnect attempts tell (``RedisClient.link_state``):
        the view does not wait for one of its reads to give up after the
        client's ``reconnect_timeout``.
        """
        redis = getattr(self._portal.resource, "redis", None)
        link_state = getattr(redis, "link_state", None)
        if link_state is None:
            return
        state = link_state()
        if state.connected:
            if "link" in self._problems:
                self._set_problem("link", None)
                if "follow" not in self._problems:
                    self._warnings_since = time.monotonic()  # the outage's warnings are over
                    self._say(f"Connected again at {time.strftime('%H:%M:%S')}.")
        elif state.error is not None:
            self._set_problem(
                "link", f"Connection to Redis lost ({html.escape(state.error)}) — retrying"
            )

    def _every_second(self) -> None:
        """Once a second in the loop: what a view redraws as time passes (its plot)."""
        plot = getattr(self, "plot", None)
        if plot is not None:
            plot.draw()

    def problems(self) -> list[str]:
        """What is wrong now (the follower's failure, a stopped worker...), as text."""
        return [html.unescape(re.sub(r"<[^>]+>", "", p)) for p in self._problems.values()]

    def status_text(self) -> str:
        """The status line without its markup (for tests and debugging)."""
        return html.unescape(re.sub(r"<[^>]+>", "", self.status.value))

    def _own(self, *made: widgets.Widget) -> None:
        """Remember widgets this view made, to close them with it."""
        self._owned.extend(made)

    @property
    def _owned(self) -> list[widgets.Widget]:
        owned: list[widgets.Widget] | None = self.__dict__.get("_owned_list")
        if owned is None:
            owned = self.__dict__["_owned_list"] = []
        return owned

    def close(self) -> None:
        """Stop following and close every widget the view made (idempotent)."""
        if self._closed:
            return
        self._closed = True
        for scope in self._scopes:
            self._portal.cancel(scope)
        self._scopes.clear()
        WarningSummary.detach(self)
        made = _with_parts([self, *self._owned])
        self._owned.clear()
        for widget in made:
            if widget is self:
                super().close()  # not self.close(): that returns at once now
            else:
                widget.close()


def _parts(widget: widgets.Widget) -> list[widgets.Widget]:
    """The widgets a widget refers to in its synced state: layout, style, children,
    a figure's marks, axes and scales..."""
    found: list[widgets.Widget] = []
    for name in getattr(widget, "keys", ()) or ():
        try:
            value = getattr(widget, name)
        except Exception:  # a trait that cannot be read is not a part
            continue
        values = value.values() if isinstance(value, dict) else value
        if isinstance(values, list | tuple):
            found.extend(v for v in values if isinstance(v, widgets.Widget))
        elif isinstance(value, widgets.Widget):
            found.append(value)
    return found


def _with_parts(roots: Sequence[widgets.Widget]) -> list[widgets.Widget]:
    """``roots`` and every widget they refer to, recursively."""
    seen: dict[int, widgets.Widget] = {}
    stack = list(roots)
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen[id(widget)] = widget
        stack.extend(_parts(widget))
    return list(seen.values())
