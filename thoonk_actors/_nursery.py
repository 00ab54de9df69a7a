"""Nurseries for ``open_*`` APIs that never leak a one-error ExceptionGroup.

Synopsis::

    async with open_service_nursery() as nursery:
        nursery.start_soon(background)
        yield resource   # an error raised here comes out as itself

trio's nurseries wrap every error in an ExceptionGroup. Our ``open_*`` context
managers own background tasks that catch their own errors, so when an error
comes out it is almost always the caller's own (or a single failure of ours):
it should reach the caller as the exception it is, not as a group the caller
must unwrap. A group with several leaves is left as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NoReturn

import trio


def single_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The only exception inside ``group`` (nested groups flattened), or None."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    return leaves[0] if len(leaves) == 1 else None


@asynccontextmanager
async def open_service_nursery() -> AsyncIterator[trio.Nursery]:
    """A nursery whose single-error groups are unwrapped on the way out."""
    try:
        async with trio.open_nursery() as nursery:
            yield nursery
    except BaseExceptionGroup as group:
        leaf = single_leaf(group)
        if leaf is None:
            raise
        reraise_as_is(leaf)


def reraise_as_is(exc: BaseException) -> NoReturn:
    """``reraise_as_is(leaf)`` inside ``except``: raise ``leaf`` with its own chain.

    A plain ``raise leaf`` in an ``except`` block makes the exception being
    handled (the group) its ``__context__``, and ``raise leaf from ...``
    changes ``__cause__`` and ``__suppress_context__``: either way the
    traceback the caller sees would tell a story that did not happen. The
    chain the leaf had when its task raised it is put back as it propagates.
    """
    context, cause, suppress = exc.__context__, exc.__cause__, exc.__suppress_context__
    try:
        raise exc
    finally:
        exc.__context__ = context
        exc.__cause__ = cause
        exc.__suppress_context__ = suppress
        # The frame would otherwise keep the exception (and its traceback) alive.
        del exc, context, cause
