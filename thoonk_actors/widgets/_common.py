"""What every live widget shares: a background follower, a status line, helpers.

Synopsis: ``class FeedView(LiveWidget): ... self._start(self._follow)``.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import ipywidgets as widgets
import trio

from .._errors import ThoonkError
from ..sync import Portal

log = logging.getLogger(__name__)

_RETRY_FIRST = 0.5
_RETRY_MAX = 10.0


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


class LiveWidget(widgets.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """A VBox kept up to date by a task in the connection's background loop."""

    status: widgets.HTML

    def __init__(self, children: Sequence[widgets.Widget], *, portal: Portal[Any]) -> None:
        super().__init__(list(children))
        self._portal = portal
        self._scopes: list[trio.CancelScope] = []

    def _start(self, follow: Callable[[], Awaitable[None]]) -> None:
        """Run ``follow`` in the loop for the widget's life, restarted after errors."""
        self._scopes.append(self._portal.spawn(self._supervise, follow))

    async def _supervise(self, follow: Callable[[], Awaitable[None]]) -> None:
        delay = _RETRY_FIRST
        while True:
            try:
                await follow()
                return
            except Exception as exc:  # shown, then retried: a widget never dies
                self._say(f"{describe_error(exc)} — retrying in {delay:g} s", error=True)
                await trio.sleep(delay)
                delay = min(delay * 2, _RETRY_MAX)

    def _say(self, message: str, *, error: bool = False) -> None:
        color = "#b00020" if error else "#555"
        self.status.value = f'<span style="color:{color}">{message}</span>'

    def close(self) -> None:
        """Stop following and close the widgets."""
        for scope in self._scopes:
            self._portal.cancel(scope)
        self._scopes.clear()
        super().close()
