"""The blocking method tables of the sync twins: one line per async method.

Synopsis: ``class SyncJob(JobMethods, SyncObject)`` (in ``_facade.py``);
``t.job("emails").publish(item)`` is then typed ``-> str``, like
``await Job.publish(item)``.

Each line names the async method it mirrors, and :class:`BlockingMethod` takes
the signature and result type from it, so nothing here repeats a signature.
What these tables must hold is checked by ``tests/sync/test_twins.py``: every
public coroutine method of the async class, each pointing at that class's own
function (an override in a subclass needs its own line). A method missing
here still works at run time (``SyncObject.__getattr__``) but is typed ``Any``.
"""

from __future__ import annotations

from ..objects import Feed, Job, Queue, SortedFeed, Thoonk, ThoonkObject
from ._blocking import BlockingMethod


class ObjectMethods:
    """The lifecycle every object has (:class:`~thoonk_actors.objects.ThoonkObject`)."""

    config = BlockingMethod(ThoonkObject.config)
    configure = BlockingMethod(ThoonkObject.configure)
    create = BlockingMethod(ThoonkObject.create)
    delete = BlockingMethod(ThoonkObject.delete)
    exists = BlockingMethod(ThoonkObject.exists)


class JobMethods:
    """The blocking twins of :class:`~thoonk_actors.Job`'s own async methods."""

    available_ids = BlockingMethod(Job.available_ids)
    cancel = BlockingMethod(Job.cancel)
    claim_many = BlockingMethod(Job.claim_many)
    claimed = BlockingMethod(Job.claimed)
    failure_count = BlockingMethod(Job.failure_count)
    finish = BlockingMethod(Job.finish)
    finish_many = BlockingMethod(Job.finish_many)
    get = BlockingMethod(Job.get)
    heartbeat = BlockingMethod(Job.heartbeat)
    held = BlockingMethod(Job.held)
    item = BlockingMethod(Job.item)
    last_error = BlockingMethod(Job.last_error)
    progress = BlockingMethod(Job.progress)
    progress_all = BlockingMethod(Job.progress_all)
    progress_of = BlockingMethod(Job.progress_of)
    publish = BlockingMethod(Job.publish)
    publish_and_wait = BlockingMethod(Job.publish_and_wait)
    publish_many = BlockingMethod(Job.publish_many)
    reap = BlockingMethod(Job.reap)
    release = BlockingMethod(Job.release)
    release_many = BlockingMethod(Job.release_many)
    retract = BlockingMethod(Job.retract)
    retry = BlockingMethod(Job.retry)
    scheduled = BlockingMethod(Job.scheduled)
    stall = BlockingMethod(Job.stall)
    stalled_ids = BlockingMethod(Job.stalled_ids)
    statistics = BlockingMethod(Job.statistics)
    touch = BlockingMethod(Job.touch)
    wait_and_claim = BlockingMethod(Job.wait_and_claim)
    wait_for_work = BlockingMethod(Job.wait_for_work)
    wait_held = BlockingMethod(Job.wait_held)
    wait_result = BlockingMethod(Job.wait_result)
    workers = BlockingMethod(Job.workers)


class FeedMethods:
    """The blocking twins of :class:`~thoonk_actors.Feed`'s own async methods."""

    get = BlockingMethod(Feed.get)
    has = BlockingMethod(Feed.has)
    ids = BlockingMethod(Feed.ids)
    items = BlockingMethod(Feed.items)
    length = BlockingMethod(Feed.length)
    publish = BlockingMethod(Feed.publish)
    publish_detail = BlockingMethod(Feed.publish_detail)
    retract = BlockingMethod(Feed.retract)
    snapshot = BlockingMethod(Feed.snapshot)


class SortedFeedMethods:
    """The blocking twins of :class:`~thoonk_actors.SortedFeed`'s own async methods."""

    append = BlockingMethod(SortedFeed.append)
    edit = BlockingMethod(SortedFeed.edit)
    get = BlockingMethod(SortedFeed.get)
    has = BlockingMethod(SortedFeed.has)
    ids = BlockingMethod(SortedFeed.ids)
    items = BlockingMethod(SortedFeed.items)
    length = BlockingMethod(SortedFeed.length)
    move = BlockingMethod(SortedFeed.move)
    move_after = BlockingMethod(SortedFeed.move_after)
    move_before = BlockingMethod(SortedFeed.move_before)
    move_to_begin = BlockingMethod(SortedFeed.move_to_begin)
    move_to_end = BlockingMethod(SortedFeed.move_to_end)
    prepend = BlockingMethod(SortedFeed.prepend)
    publish = BlockingMethod(SortedFeed.publish)
    publish_after = BlockingMethod(SortedFeed.publish_after)
    publish_before = BlockingMethod(SortedFeed.publish_before)
    retract = BlockingMethod(SortedFeed.retract)
    snapshot = BlockingMethod(SortedFeed.snapshot)


class QueueMethods:
    """The blocking twins of :class:`~thoonk_actors.Queue`'s own async methods."""

    get = BlockingMethod(Queue.get)
    get_nowait = BlockingMethod(Queue.get_nowait)
    length = BlockingMethod(Queue.length)
    put = BlockingMethod(Queue.put)
    put_many = BlockingMethod(Queue.put_many)


class ThoonkMethods:
    """The blocking twins of the :class:`~thoonk_actors.Thoonk` methods a sync connection has.

    Not mirrored: ``run``, ``run_many``, ``run_durable``, ``run_behind_block``,
    ``read`` (they take contract calls, the objects' business), ``pubsub``,
    ``result_router`` and ``result_barrier`` (they hand out loop-bound resources).
    """

    names = BlockingMethod(Thoonk.names)
    discover = BlockingMethod(Thoonk.discover)
    register = BlockingMethod(Thoonk.register)
    execute = BlockingMethod(Thoonk.execute)
