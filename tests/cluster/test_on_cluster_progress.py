"""tests/objects/test_progress.py, unchanged, on the local cluster (see _suite.py)."""

from tests.cluster._suite import *  # noqa: F403
from tests.objects.test_progress import *  # noqa: F403
