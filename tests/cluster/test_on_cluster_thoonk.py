"""tests/objects/test_thoonk.py, unchanged, on the local cluster (see _suite.py)."""

from tests.cluster._suite import *  # noqa: F403
from tests.objects.test_thoonk import *  # noqa: F403
