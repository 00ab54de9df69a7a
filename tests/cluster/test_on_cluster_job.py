"""tests/objects/test_job.py, unchanged, on the local cluster (see _suite.py)."""

from tests.cluster._suite import *  # noqa: F403
from tests.objects.test_job import *  # noqa: F403
