"""How durable a publish is: the call's ``durable`` arguments, else the queue's settings.

Synopsis::

    replicas, wait_s = await thoonk.durability.of(job.keys, durable=None, wait_s=None)
    # (1, 0.5) when the queue's config says durable=1, durable_timeout=500

A job queue's config may hold ``durable`` (replicas that must acknowledge
each publish, 0 = do not wait) and ``durable_timeout`` (ms). A publish that
gives neither argument uses them; an argument given wins. Whether to wait
must be known *before* the publish is sent (the durable path runs the script
and ``WAIT`` on a connection of its own, as ``WAIT`` counts the writes of its
own connection), so the settings cannot come back with the publish's reply.
Reading them before every publish would double its round trips; each client
keeps them instead for :data:`SETTINGS_TTL_S` seconds per queue (one
``HMGET`` of two fields per queue and second at most, only while it
publishes). A change made through this client applies at once (its
``create`` / ``configure`` / ``delete`` forget the kept value); a change
made elsewhere, within :data:`SETTINGS_TTL_S`.
"""

from __future__ import annotations

import math
import reprlib
from typing import TYPE_CHECKING

import trio

from .. import contract
from .._errors import UsageError

if TYPE_CHECKING:
    from ._thoonk import Thoonk

#: Default for ``durable_timeout``: how long a durable publish waits for its replicas.
DURABLE_TIMEOUT_S = contract.DEFAULT_DURABLE_TIMEOUT_MS / 1000
#: How long a client keeps a queue's durability settings before reading them again, s.
SETTINGS_TTL_S = 1.0


def check_durable(durable: object, timeout: object) -> None:
    """``durable``: replicas to wait for (an int >= 0, or None: the queue's setting);
    ``timeout``: seconds (> 0, finite, or None: the queue's setting).

    Raises:
        UsageError: anything else (checked before anything is sent).
    """
    if durable is not None and (
        isinstance(durable, bool) or not isinstance(durable, int) or durable < 0
    ):
        raise UsageError(
            f"durable must be an int >= 0 (replicas that must acknowledge the publish "
            f"before it returns; 0: do not wait; None: the queue's durable setting), "
            f"not {reprlib.repr(durable)}"
        )
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout < math.inf
    ):
        raise UsageError(
            f"durable_timeout must be a finite number of seconds > 0 (None: the queue's "
            f"durable_timeout setting), not {reprlib.repr(timeout)}"
        )


class DurabilitySettings:
    """One client's kept ``durable`` / ``durable_timeout`` settings, per job queue."""

    def __init__(self, thoonk: Thoonk) -> None:
        self._thoonk = thoonk
        #: queue name -> (trio time it expires, replicas, timeout ms)
        self._kept: dict[str, tuple[float, int, int]] = {}

    def of_nowait(
        self, keys: contract.JobKeys, *, durable: int | None, wait_s: float | None
    ) -> tuple[int, float] | None:
        """:meth:`of` when it needs no read (arguments given, or settings kept); else None.

        Every publish asks, and almost every one is answered from what is
        kept: answering without a coroutine saves two of them per publish.
        """
        if durable is not None and (durable == 0 or wait_s is not None):
            return durable, wait_s if wait_s is not None else DURABLE_TIMEOUT_S
        kept = self._kept.get(keys.name)
        if kept is None or kept[0] <= trio.current_time():
            return None
        return self._merge(durable, wait_s, kept[1], kept[2])

    async def of(
        self, keys: contract.JobKeys, *, durable: int | None, wait_s: float | None
    ) -> tuple[int, float]:
        """``(replicas, seconds)`` for one publish: each argument given, else the setting.

        The settings are read only when an argument is missing and matters
        (``durable=0`` waits for nothing, so needs no timeout), and then at
        most once a second (``SETTINGS_TTL_S``).

        Raises:
            BadStoredConfigError: another program stored a bad value in one of
                the two settings (nothing is published).
        """
        known = self.of_nowait(keys, durable=durable, wait_s=wait_s)
        if known is not None:
            return known
        now = trio.current_time()
        replicas, timeout_ms = await self._thoonk.read(contract.job_durability(keys))
        self._kept[keys.name] = (now + SETTINGS_TTL_S, replicas, timeout_ms)
        return self._merge(durable, wait_s, replicas, timeout_ms)

    @staticmethod
    def _merge(
        durable: int | None, wait_s: float | None, replicas: int, timeout_ms: int
    ) -> tuple[int, float]:
        return (
            durable if durable is not None else replicas,
            wait_s if wait_s is not None else timeout_ms / 1000,
        )

    def forget(self, name: str) -> None:
        """This client changed queue ``name``'s config: read it again at the next publish."""
        self._kept.pop(name, None)
