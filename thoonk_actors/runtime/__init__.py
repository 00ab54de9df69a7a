"""The actor runtime: job workers and feed actors on trio, supervised, multiprocess.

Synopsis::

    from thoonk_actors.runtime import App

    app = App()

    @app.job("emails", concurrency=16, timeout=30, max_cancels=3)
    async def send(item):
        return {"sent": item["to"]}

    trio.run(app.run)                                    # one process
    run_workers("myapp:app", processes=4)                # several (blocks; returns an exit code)

See ``docs/runtime.md``.
"""

from ._app import App as App
from ._current import current_job as current_job
from ._current import progress as progress
from ._current import progress_sync as progress_sync
from ._logging import LOG_FORMAT as LOG_FORMAT
from ._logging import LOG_LEVEL_ENV as LOG_LEVEL_ENV
from ._resync import Resync as Resync
from ._resync import ResyncReason as ResyncReason
from ._running import RunningApp as RunningApp
from ._setup import WorkerContext as WorkerContext
from ._setup import WorkerSetup as WorkerSetup
from ._signals import SignalLatch as SignalLatch
from ._signals import StopRequested as StopRequested
from ._signals import installed_latch as installed_latch
from ._signals import stop_on_signals as stop_on_signals
from ._stats import HANDLER_OUTCOMES as HANDLER_OUTCOMES
from ._stats import ActorStatistics as ActorStatistics
from ._stats import AppState as AppState
from ._stats import DurationCounts as DurationCounts
from ._stats import QueueStatistics as QueueStatistics
from ._stats import RuntimeStatistics as RuntimeStatistics
from ._supervisor import run_workers as run_workers
from ._target import load_app as load_app
