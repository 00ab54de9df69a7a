"""Live ipywidgets views: FeedView, JobBoard, and WorkerPanel for in-kernel workers.

Synopsis: ``FeedView(thoonk_actors.sync.connect().feed("news"))``. Needs the
``notebook`` extra (``pip install 'thoonk-actors[notebook]'``). Importing it
registers the widgets with the facade (``thoonk_actors.sync.register_view``), so
``t.job("x").view()`` and a cell's last expression show them.
"""

from ._common import WarningSummary as WarningSummary
from ._dashboard import Dashboard as Dashboard
from ._feed_view import FeedView as FeedView
from ._job_board import JobBoard as JobBoard
from ._job_board import JobRow as JobRow
from ._throughput import ThroughputPlot as ThroughputPlot
from ._worker_panel import WorkerPanel as WorkerPanel
