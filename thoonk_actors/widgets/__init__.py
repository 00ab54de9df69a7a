"""Live ipywidgets views: FeedView, JobBoard, and WorkerPanel for in-kernel workers.

Synopsis: ``FeedView(thoonk_actors.sync.connect().feed("news"))``. Needs the
``notebook`` extra (``pip install 'thoonk-actors[notebook]'``).
"""

from ._feed_view import FeedView as FeedView
from ._job_board import JobBoard as JobBoard
from ._job_board import JobRow as JobRow
from ._worker_panel import WorkerPanel as WorkerPanel
