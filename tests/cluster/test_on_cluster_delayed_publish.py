"""tests/objects/test_delayed_publish.py, unchanged, on the local cluster (see _suite.py)."""

from tests.cluster._suite import *  # noqa: F403
from tests.objects.test_delayed_publish import *  # noqa: F403
