"""Blocking Thoonk for notebooks, scripts and the REPL (a trio loop in a daemon thread).

Synopsis: ``t = thoonk_actors.sync.connect(); t.job("emails").publish({...})``;
``worker = t.process("emails", fn)`` runs a job worker in this process.
"""

from ._facade import AsyncView as AsyncView
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
from ._views import make_view as make_view
from ._views import register_view as register_view
from ._workers import CallbackSubscription as CallbackSubscription
from ._workers import DrainTimeoutError as DrainTimeoutError
from ._workers import HandlerError as HandlerError
from ._workers import WorkerHandle as WorkerHandle
from ._workers import WorkerState as WorkerState
