"""Blocking Thoonk for notebooks, scripts and the REPL (a trio loop in a daemon thread).

Synopsis: ``t = thoonk_actors.sync.connect(); t.job("emails").publish({...})``.
"""

from ._facade import EventStream as EventStream
from ._facade import SyncFeed as SyncFeed
from ._facade import SyncJob as SyncJob
from ._facade import SyncObject as SyncObject
from ._facade import SyncQueue as SyncQueue
from ._facade import SyncSortedFeed as SyncSortedFeed
from ._facade import SyncThoonk as SyncThoonk
from ._facade import connect as connect
from ._portal import Portal as Portal
from ._portal import PortalClosedError as PortalClosedError
