"""``open_service_nursery`` hands a single error out as itself, with its own chain."""

from __future__ import annotations

import pytest
import trio

from thoonk_actors._nursery import open_service_nursery


async def _fail_in_task() -> None:
    async def task() -> None:
        raise KeyError("in the task")

    async with open_service_nursery() as nursery:
        nursery.start_soon(task)
        await trio.sleep_forever()


async def test_a_leaf_without_a_chain_keeps_none() -> None:
    with pytest.raises(KeyError) as info:
        await _fail_in_task()
    leaf = info.value
    assert leaf.__context__ is None
    assert leaf.__cause__ is None
    assert leaf.__suppress_context__ is False


async def test_a_leaf_keeps_its_context_not_the_group() -> None:
    original = LookupError("handled when the task failed")

    async def task() -> None:
        try:
            raise original
        except LookupError:
            raise ValueError("in the task") from None

    async def task_with_context() -> None:
        try:
            raise original
        except LookupError:
            raise ValueError("in the task")  # noqa: B904 - the implicit chain is the point

    for body, suppressed in ((task_with_context, False), (task, True)):
        with pytest.raises(ValueError) as info:
            async with open_service_nursery() as nursery:
                nursery.start_soon(body)
        leaf = info.value
        assert leaf.__context__ is original
        assert leaf.__cause__ is None
        assert leaf.__suppress_context__ is suppressed
        assert not isinstance(leaf.__context__, BaseExceptionGroup)


async def test_a_leaf_keeps_its_cause() -> None:
    cause = OSError("the world broke")

    async def task() -> None:
        raise ConnectionError("lost") from cause

    with pytest.raises(ConnectionError) as info:
        async with open_service_nursery() as nursery:
            nursery.start_soon(task)
    leaf = info.value
    assert leaf.__cause__ is cause
    assert leaf.__context__ is None
    assert leaf.__suppress_context__ is True


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
