"""thoonk-actors: Thoonk (persistent feeds, queues and jobs on Redis) for Python on trio.

Synopsis::

    import thoonk_actors

    async with thoonk_actors.open_thoonk() as thoonk:     # embedded Redis by default
        await thoonk.job("emails").publish({"to": "a@example.org"})

The error classes are imported eagerly (they are plain Python); everything
that needs trio or redis-py (the client, the objects, the runtime) is imported
on first use, so that ``import thoonk_actors.contract`` stays sans-IO and the
command line starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._errors import BadStoredConfigError as BadStoredConfigError
from ._errors import ClaimLostError as ClaimLostError
from ._errors import DuplicateIdError as DuplicateIdError
from ._errors import EmbeddedServerError as EmbeddedServerError
from ._errors import InvalidConfigError as InvalidConfigError
from ._errors import InvalidIdError as InvalidIdError
from ._errors import InvalidNameError as InvalidNameError
from ._errors import NoSuchObjectError as NoSuchObjectError
from ._errors import NotClaimedError as NotClaimedError
from ._errors import NotFoundError as NotFoundError
from ._errors import NotReplicatedError as NotReplicatedError
from ._errors import NotStalledError as NotStalledError
from ._errors import ObjectExistsError as ObjectExistsError
from ._errors import PayloadError as PayloadError
from ._errors import PayloadTooLargeError as PayloadTooLargeError
from ._errors import RefusedError as RefusedError
from ._errors import ResultTimeoutError as ResultTimeoutError
from ._errors import ServerError as ServerError
from ._errors import ThoonkError as ThoonkError
from ._errors import UnexpectedReplyError as UnexpectedReplyError
from ._errors import UsageError as UsageError
from ._errors import WrongTypeError as WrongTypeError

if TYPE_CHECKING:
    from .contract import JsonCodec as JsonCodec
    from .contract import RawCodec as RawCodec
    from .objects import ClaimedJob as ClaimedJob
    from .objects import Discovery as Discovery
    from .objects import Feed as Feed
    from .objects import FeedEvent as FeedEvent
    from .objects import FoundObject as FoundObject
    from .objects import Job as Job
    from .objects import ObjectEvent as ObjectEvent
    from .objects import Queue as Queue
    from .objects import SortedFeed as SortedFeed
    from .objects import SortedFeedEvent as SortedFeedEvent
    from .objects import Thoonk as Thoonk
    from .objects import open_thoonk as open_thoonk
    from .runtime import App as App
    from .runtime import Resync as Resync
    from .runtime import RunningApp as RunningApp
    from .runtime import current_job as current_job
    from .runtime import progress as progress
    from .runtime import progress_sync as progress_sync
    from .transport import ThoonkAuthenticationError as ThoonkAuthenticationError
    from .transport import ThoonkConnectionError as ThoonkConnectionError
    from .transport import ThoonkTimeoutError as ThoonkTimeoutError
    from .transport import ThoonkTLSError as ThoonkTLSError

__version__ = "0.1.0"

# public name -> the module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    "JsonCodec": "thoonk_actors.contract",
    "RawCodec": "thoonk_actors.contract",
    "ClaimedJob": "thoonk_actors.objects",
    "Discovery": "thoonk_actors.objects",
    "Feed": "thoonk_actors.objects",
    "FoundObject": "thoonk_actors.objects",
    "FeedEvent": "thoonk_actors.objects",
    "Queue": "thoonk_actors.objects",
    "SortedFeed": "thoonk_actors.objects",
    "SortedFeedEvent": "thoonk_actors.objects",
    "Job": "thoonk_actors.objects",
    "ObjectEvent": "thoonk_actors.objects",
    "Thoonk": "thoonk_actors.objects",
    "open_thoonk": "thoonk_actors.objects",
    "App": "thoonk_actors.runtime",
    "Resync": "thoonk_actors.runtime",
    "RunningApp": "thoonk_actors.runtime",
    "current_job": "thoonk_actors.runtime",
    "progress": "thoonk_actors.runtime",
    "progress_sync": "thoonk_actors.runtime",
    "ThoonkAuthenticationError": "thoonk_actors.transport",
    "ThoonkConnectionError": "thoonk_actors.transport",
    "ThoonkTimeoutError": "thoonk_actors.transport",
    "ThoonkTLSError": "thoonk_actors.transport",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'thoonk_actors' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
