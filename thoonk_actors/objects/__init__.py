"""Thoonk objects on trio: the client, job queues, feeds, sorted feeds, queues.

Each method is one contract operation (see ``thoonk_actors.contract``).

The layers above (runtime, sync, widgets, CLI) import from here, never from
the transport: the pub/sub types an event stream yields (:class:`Message`,
:class:`Gap`), the errors of a broken connection (and of a server still
loading its data after the reconnect budget ran out), and where
:func:`open_thoonk` connects without a URL (``URL_ENV``, ``resolve_url_sync``)
are re-exported here.
"""

# Where open_thoonk() connects without a URL (for a process that starts others).
from ..embedded import resolve_url_sync as resolve_url_sync

# What the event streams and the connection hand to the layers above.
from ..transport import DEFAULT_BUFFER_BYTES as DEFAULT_BUFFER_BYTES
from ..transport import URL_ENV as URL_ENV
from ..transport import Gap as Gap
from ..transport import Message as Message
from ..transport import ThoonkConnectionError as ThoonkConnectionError
from ..transport import ThoonkLoadingError as ThoonkLoadingError
from ..transport import ThoonkTimeoutError as ThoonkTimeoutError
from ._base import Events as Events
from ._base import ObjectEvent as ObjectEvent
from ._base import ThoonkObject as ThoonkObject
from ._discovery import DISCOVERY_BUDGET_S as DISCOVERY_BUDGET_S
from ._discovery import Discovery as Discovery
from ._discovery import FoundObject as FoundObject
from ._feed import Feed as Feed
from ._feed import FeedEvent as FeedEvent
from ._feed import Snapshot as Snapshot
from ._job import HEARTBEAT_STALE_MS as HEARTBEAT_STALE_MS
from ._job import ORPHAN_GRACE_MS as ORPHAN_GRACE_MS
from ._job import ClaimedJob as ClaimedJob
from ._job import Job as Job
from ._job import JobRef as JobRef
from ._queue import Queue as Queue
from ._sorted_feed import SortedFeed as SortedFeed
from ._sorted_feed import SortedFeedEvent as SortedFeedEvent
from ._thoonk import Thoonk as Thoonk
from ._thoonk import ThoonkOptions as ThoonkOptions
from ._thoonk import default_worker_id as default_worker_id
from ._thoonk import open_thoonk as open_thoonk
