"""The Redis tests of tests/runtime/test_prefetch.py on the local cluster (see _suite.py).

The policy tests there use no Redis (plain numbers, trio's autojump clock):
running them again here would prove nothing more, so only the two that run
a worker are imported: a grown buffer given back, two worker processes
sharing the work, and a worker that never holds more than its bound.
"""

from tests.cluster._suite import *  # noqa: F403
from tests.runtime.test_prefetch import (  # noqa: F401
    test_drain_gives_a_grown_buffer_back_to_the_queue,
    test_slow_handlers_in_two_processes_share_the_work,
    test_the_worker_holds_at_most_its_capacity_in_a_bounded_buffer,
)
