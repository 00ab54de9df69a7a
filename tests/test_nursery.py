"""``open_service_nursery`` hands a single error out as itself, with its own chain.

The chain (``__context__``, ``__cause__``, ``__suppress_context__``) must be the
one the leaf had when its task raised it, not the ExceptionGroup it travelled in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from thoonk_actors._nursery import open_service_nursery

ORIGINAL = LookupError("handled when the task failed")
CAUSE = OSError("the world broke")


async def plain() -> None:
    raise KeyError("in the task")


async def with_context() -> None:
    try:
        raise ORIGINAL
    except LookupError:
        raise ValueError("in the task")  # noqa: B904 - the implicit chain is the point


async def with_context_suppressed() -> None:
    try:
        raise ORIGINAL
    except LookupError:
        raise ValueError("in the task") from None


async def with_cause() -> None:
    raise ConnectionError("lost") from CAUSE


async def _raised_by(task: Callable[[], Awaitable[None]]) -> BaseException:
    """What comes out of the nursery when ``task`` fails in it."""
    try:
        async with open_service_nursery() as nursery:
            nursery.start_soon(task)
    except BaseException as exc:  # whatever it is, the test looks at it
        return exc
    raise AssertionError("the task's error did not come out")


@pytest.mark.parametrize(
    ("task", "context", "cause", "suppressed"),
    [
        (plain, None, None, False),
        (with_context, ORIGINAL, None, False),
        (with_context_suppressed, ORIGINAL, None, True),
        (with_cause, None, CAUSE, True),
    ],
)
async def test_a_single_leaf_keeps_its_own_chain(
    task: Callable[[], Awaitable[None]],
    context: BaseException | None,
    cause: BaseException | None,
    suppressed: bool,
) -> None:
    leaf = await _raised_by(task)
    assert not isinstance(leaf, BaseExceptionGroup)
    assert (leaf.__context__, leaf.__cause__, leaf.__suppress_context__) == (
        context,
        cause,
        suppressed,
    )


async def test_an_error_of_the_body_comes_out_as_itself() -> None:
    with pytest.raises(RuntimeError) as info:
        async with open_service_nursery():
            raise RuntimeError("the caller's own")
    assert info.value.__context__ is None


async def test_several_leaves_stay_a_group() -> None:
    async def fail(exc: Exception) -> None:
        raise exc

    with pytest.raises(BaseExceptionGroup) as info:
        async with open_service_nursery() as nursery:
            nursery.start_soon(fail, KeyError("a"))
            nursery.start_soon(fail, ValueError("b"))
    assert len(info.value.exceptions) == 2
