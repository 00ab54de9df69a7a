"""Blocking twins of async methods, typed from the async methods themselves.

Synopsis::

    class FeedMethods:
        publish = BlockingMethod(Feed.publish)   # sync_feed.publish(item) -> str

Why a descriptor and not ``__getattr__`` alone: ``__getattr__`` can only say
``Any``, so type checkers and editors saw no signature and no result type.
``BlockingMethod(Feed.publish)`` takes its parameters (a ``ParamSpec``) and
result from ``Feed.publish``, so the async class stays the one source of
truth: change the coroutine and its blocking twin changes with it.
``tests/sync/test_twins.py`` fails when an async method has no twin.

At run time the twin looks the method up on the live async object (the
instance's ``_blocking(name)``) and runs it in the connection's loop with
:func:`blocking_call`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, Self, TypeVar, overload

from ._portal import Portal

P = ParamSpec("P")
R = TypeVar("R")


class Twin(Protocol):
    """What a :class:`BlockingMethod` needs of the object it is read from."""

    def _blocking(self, name: str) -> Callable[..., Any]:
        """The blocking twin of the async method ``name`` of the live object."""
        ...


class BlockingMethod(Generic[P, R]):
    """``publish = BlockingMethod(Feed.publish)``: ``publish(item)`` that blocks and returns str.

    Read from a class it is itself (``.method`` is the async function it
    mirrors); read from a twin it is the blocking call, with the async
    method's signature, name and docstring.
    """

    __slots__ = ("method", "name")

    def __init__(self, method: Callable[Concatenate[Any, P], Coroutine[Any, Any, R]]) -> None:
        self.method = method
        self.name: str = method.__name__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        if name != self.name:  # a twin under another name would not be found by getattr
            raise TypeError(f"{owner.__name__}.{name} mirrors {self.name}: use the same name")

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, instance: Twin, owner: type[Any] | None = None) -> Callable[P, R]: ...

    def __get__(
        self, instance: Twin | None, owner: type[Any] | None = None
    ) -> Self | Callable[P, R]:
        if instance is None:
            return self
        return instance._blocking(self.name)

    def __repr__(self) -> str:
        return f"<blocking twin of {self.method.__qualname__}>"


def blocking_call(portal: Portal[Any], method: Callable[..., Any]) -> Callable[..., Any]:
    """``blocking_call(portal, feed.publish)("x")``: call the coroutine method in the loop, wait.

    The result keeps the method's name, docstring and signature
    (``functools.wraps``). Ctrl-C cancels the call in the loop and raises a
    fresh ``KeyboardInterrupt`` from the caller's frame.
    """

    @functools.wraps(method)
    def blocking(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
        try:
            return portal.run(functools.partial(method, *args, **kwargs))
        except KeyboardInterrupt:
            pass
        # A fresh interrupt from this frame: the traceback ends at the
        # user's call, not in the portal's or threading's internals.
        raise KeyboardInterrupt

    return blocking
