"""The data directory: where it is, what is in it, and why we trust it.

Synopsis::

    paths = Paths.of("/srv/app/.thoonk")      # or None: $THOONK_DATA_DIR, ./.thoonk
    prepare_data_dir(paths)                   # create 0700, or check an existing one
    refuse_downgrade(paths, binary, "6.2.14") # data written by a newer Redis: refuse
    write_config(paths, version="7.2.4")      # redis.conf, rewritten before every start
    write_record(paths, "7.2.4", binary, why) # server.json, once it answered

The directory holds the data (an AOF is a list of commands that Redis runs when
it starts) and the socket every client trusts, so whoever can write there can
run commands, and with ``MODULE LOAD`` code, as us. Hence: the directory must
be ours and writable by nobody else (an existing one of ours is chmod-ed 0700),
no file in it may be a symbolic link, the files we create are opened with
``O_NOFOLLOW`` (and ``O_EXCL`` where we create them anew) and mode 0600, and the
config disables MODULE, CONFIG and DEBUG. See ``docs/security.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import stat
import sys
import urllib.parse

from .._errors import EmbeddedServerError
from ._binary import REDIS_SERVER_ENV, known_binaries, version_tuple

#: Environment variable naming the data directory (default ``./.thoonk``).
DATA_DIR_ENV = "THOONK_DATA_DIR"
#: Environment variable choosing the AOF fsync policy (``everysec`` or ``always``).
APPENDFSYNC_ENV = "THOONK_APPENDFSYNC"

# sockaddr_un.sun_path holds 108 bytes on Linux and 104 on macOS/BSD, NUL included.
_SUN_PATH_MAX = 108 if sys.platform.startswith("linux") else 104
# What the first line of a redis.conf we wrote says (how a URL is known to be ours).
CONFIG_HEADER = "# Written by thoonk-actors before every start of the embedded server;"
# Names in the data directory that Redis or we create; none may be a symbolic link.
_KNOWN_NAMES = (
    "redis.sock", "redis.pid", "redis.log", "redis.conf", "server.lock", ".gitignore",
    "appendonly.aof", "appendonlydir", "dump.rdb", "server.json",
)  # fmt: skip
# Which redis-server last ran on the data (version, binary, why chosen); see write_record.
RECORD_NAME = "server.json"


def default_data_dir() -> str:
    """Return the absolute data directory used when none is given.

    Synopsis: ``default_data_dir() -> '/home/me/project/.thoonk'``.

    ``$THOONK_DATA_DIR`` if set (``~`` expanded), else ``./.thoonk``; relative
    paths are resolved against the current directory at the time of the call.
    """
    return absolute(os.environ.get(DATA_DIR_ENV) or ".thoonk")


def absolute(path: str | os.PathLike[str]) -> str:
    """``path`` with ``~`` expanded, made absolute (symbolic links are kept)."""
    return os.path.abspath(os.path.expanduser(os.fspath(path)))


@dataclasses.dataclass(frozen=True, slots=True)
class Paths:
    """Every file of one data directory, by role."""

    data_dir: str
    socket: str
    pidfile: str
    logfile: str
    conf: str
    lock: str

    @classmethod
    def of(cls, data_dir: str | os.PathLike[str] | None) -> Paths:
        root = default_data_dir() if data_dir is None else absolute(data_dir)
        return cls(
            data_dir=root,
            socket=os.path.join(root, "redis.sock"),
            pidfile=os.path.join(root, "redis.pid"),
            logfile=os.path.join(root, "redis.log"),
            conf=os.path.join(root, "redis.conf"),
            lock=os.path.join(root, "server.lock"),
        )

    @property
    def url(self) -> str:
        return "unix://" + urllib.parse.quote(self.socket, safe="/")


# ------------------------------------------------------------------ trusting it


def prepare_data_dir(paths: Paths) -> None:
    """Create the data directory (0700), or check that an existing one is safe to use.

    Raises:
        EmbeddedServerError: the socket path is too long, or the directory is
            not ours, writable by others, a symbolic link, or holds one.
    """
    if len(os.fsencode(paths.socket)) >= _SUN_PATH_MAX:
        raise EmbeddedServerError(
            f"The socket path {paths.socket!r} is longer than a unix socket allows "
            f"({_SUN_PATH_MAX - 1} bytes); choose a shorter data directory "
            f"(--data-dir or {DATA_DIR_ENV})."
        )
    try:
        os.makedirs(paths.data_dir, mode=0o700)
    except FileExistsError:
        check_data_dir(paths, fix_mode=True)
        return
    except OSError as exc:
        raise EmbeddedServerError(
            f"Cannot create the data directory {paths.data_dir!r}: {exc.strerror}."
        ) from exc
    # makedirs' mode is filtered by the umask; the socket lives here, so be exact.
    os.chmod(paths.data_dir, 0o700)
    check_data_dir(paths)
    # Like .pytest_cache and .mypy_cache: the directory should never be committed.
    fd = create_file(os.path.join(paths.data_dir, ".gitignore"), exclusive=True)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("# Created by thoonk-actors: the embedded Redis data directory.\n*\n")


def check_data_dir(paths: Paths, *, fix_mode: bool = False) -> None:
    """Refuse a data directory that someone else could have written to.

    With ``fix_mode`` an otherwise safe directory of ours that others may read
    or enter (0755, say) is chmod-ed 0700; one that others may *write* is
    refused, since what they left in it cannot be trusted.

    Raises:
        EmbeddedServerError: what is wrong, and what to do about it.
    """
    where = paths.data_dir
    try:
        st = os.lstat(where)
    except FileNotFoundError:
        return  # nothing there: nothing to trust (status and stop find no server)
    if stat.S_ISLNK(st.st_mode):
        raise EmbeddedServerError(
            f"The data directory {where!r} is a symbolic link; thoonk-actors does not follow "
            f"links to its data. Use the real directory (--data-dir or {DATA_DIR_ENV})."
        )
    if not stat.S_ISDIR(st.st_mode):
        raise EmbeddedServerError(f"The data directory {where!r} exists but is not a directory.")
    uid = os.geteuid()
    if st.st_uid != uid:
        raise EmbeddedServerError(
            f"The data directory {where!r} belongs to user id {st.st_uid}, not to you "
            f"({uid}); its files would run as you when the server starts. Use a directory "
            f"of your own (--data-dir or {DATA_DIR_ENV})."
        )
    if st.st_mode & 0o022:
        raise EmbeddedServerError(
            f"The data directory {where!r} is writable by other users (mode "
            f"{stat.S_IMODE(st.st_mode):o}); what they put there would run as you. Check "
            f"its contents, then `chmod 700 {where}`, or use another directory."
        )
    if fix_mode and st.st_mode & 0o077:
        os.chmod(where, 0o700)
    for name in _KNOWN_NAMES:
        path = os.path.join(where, name)
        try:
            entry = os.lstat(path)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(entry.st_mode):
            raise EmbeddedServerError(
                f"{path!r} is a symbolic link (to {os.readlink(path)!r}); thoonk-actors does "
                "not follow links in its data directory. Remove the link (`rm` it) and "
                "put the real file there if you meant it."
            )
        if entry.st_uid != uid:
            raise EmbeddedServerError(
                f"{path!r} belongs to user id {entry.st_uid}, not to you; remove it, or use "
                f"another data directory (--data-dir or {DATA_DIR_ENV})."
            )


def create_file(path: str, *, exclusive: bool = False, append: bool = False) -> int:
    """Open ``path`` for writing as a new-or-own regular file (mode 0600), never via a link.

    ``exclusive``: the file must not exist (``O_EXCL``). ``append``: keep what is
    there. Returns the descriptor (close-on-exec).

    Raises:
        EmbeddedServerError: ``path`` is a symbolic link, not a regular file, or not ours.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    if exclusive:
        flags |= os.O_EXCL
    elif append:
        flags |= os.O_APPEND
    else:
        flags |= os.O_TRUNC
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise EmbeddedServerError(
                f"{path!r} is a symbolic link; thoonk-actors does not follow links in its "
                "data directory. Remove the link (`rm` it)."
            ) from None
        raise EmbeddedServerError(f"Cannot write {path!r}: {exc.strerror}.") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise EmbeddedServerError(
            f"{path!r} is not a regular file of yours; remove it and start again."
        )
    return fd


def read_small_file(path: str) -> str | None:
    """The text of a small file of ours (pid file, config), or None; never via a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read(4096).decode("utf-8", errors="replace")


# --------------------------------------------------------------------- redis.conf


def config_text(paths: Paths, version: str | None, *, admin_commands: bool = False) -> str:
    """The redis.conf of this data directory for a ``redis-server`` of ``version``.

    MODULE is always disabled (a planted AOF could load native code with it);
    CONFIG and DEBUG too unless ``admin_commands`` (test fixtures that need them).
    ``rename-command X ""`` (every version accepts it) does the disabling;
    Redis 7+ also gets its own switches (``enable-module-command``,
    ``enable-debug-command``), which 6.2 would refuse as unknown.
    """
    q = conf_quote
    fsync = os.environ.get(APPENDFSYNC_ENV) or "everysec"
    if fsync not in ("everysec", "always"):
        raise EmbeddedServerError(
            f"{APPENDFSYNC_ENV}={fsync!r}: choose everysec (the default: at most a second "
            "of writes lost if the machine crashes) or always (every write on disk before "
            "its reply; slower)."
        )
    lines = [
        CONFIG_HEADER,
        "# edits are lost. Started as: redis-server <this file>.",
        "daemonize no",
        "port 0",
        f"unixsocket {q(paths.socket)}",
        "unixsocketperm 700",
        f"dir {q(paths.data_dir)}",
        f"pidfile {q(paths.pidfile)}",
        f"logfile {q(paths.logfile)}",
        "loglevel notice",
        "appendonly yes",
        f"appendfsync {fsync}",
        'save ""',
    ]
    if version is not None and version_tuple(version) >= (7,):
        lines.append("enable-module-command no")
        lines.append(f"enable-debug-command {'yes' if admin_commands else 'no'}")
    lines.append('rename-command MODULE ""')
    if not admin_commands:
        lines.append('rename-command DEBUG ""')
        lines.append('rename-command CONFIG ""')
    lines.append("")
    return "\n".join(lines)


def conf_quote(value: str) -> str:
    """Quote a value for redis.conf (sdssplitargs' double-quoted grammar)."""
    out = ['"']
    for byte in os.fsencode(value):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\x{byte:02x}")
    out.append('"')
    return "".join(out)


def write_config(paths: Paths, version: str | None, *, admin_commands: bool = False) -> None:
    """Write redis.conf through a fresh ``redis.conf.tmp`` (a stale one, or a link, is removed)."""
    _replace_file(paths.conf, config_text(paths, version, admin_commands=admin_commands))


def _replace_file(path: str, text: str) -> None:
    """Write ``path`` whole through a fresh ``path.tmp`` (0600, ``O_EXCL``, never via a link)."""
    tmp = path + ".tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # removes a link itself, never its target
    fd = create_file(tmp, exclusive=True)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def is_our_config(conf: str) -> bool:
    """Whether ``conf`` is a redis.conf this package wrote (first line)."""
    text = read_small_file(conf)
    return text is not None and text.startswith(CONFIG_HEADER)


def log_tail(paths: Paths, lines: int = 15) -> str:
    """The end of redis.log, indented, for error messages."""
    try:
        fd = os.open(paths.logfile, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return "(no log was written)"
    with os.fdopen(fd, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - 8192))
        text = f.read().decode(errors="replace")
    tail = text.splitlines()[-lines:]
    return "\n".join("    " + line for line in tail) if tail else "(the log is empty)"


# ------------------------------------------------------- which Redis wrote the data


@dataclasses.dataclass(frozen=True, slots=True)
class StartRecord:
    """``server.json``: the redis-server that last ran on a data directory.

    Attributes:
        version: what the running server's INFO said (``'7.0.15'``).
        binary: the binary's path, as it was run.
        reason: why it was chosen (``'THOONK_REDIS_SERVER'`` or ``'the newest found'``).
    """

    version: str
    binary: str
    reason: str


def write_record(paths: Paths, version: str, binary: str, reason: str) -> None:
    """Record in ``server.json`` which redis-server runs on the data (0600, never via a link).

    Written once the server answered, so that a later start with an older
    binary, which could not read what this one writes, is refused.
    """
    record = {"version": version, "binary": binary, "reason": reason}
    _replace_file(os.path.join(paths.data_dir, RECORD_NAME), json.dumps(record) + "\n")


def read_record(paths: Paths) -> StartRecord | None:
    """The data directory's ``server.json``, or None (none, unreadable, a link, or malformed)."""
    text = read_small_file(os.path.join(paths.data_dir, RECORD_NAME))
    try:
        fields = json.loads(text) if text is not None else None
    except ValueError:
        return None
    if not isinstance(fields, dict):
        return None
    values = [fields.get(key) for key in ("version", "binary", "reason")]
    if not all(isinstance(value, str) for value in values):
        return None
    version, binary, reason = (str(value) for value in values)
    return StartRecord(version=version, binary=binary, reason=reason)


# RDB format version -> the first Redis release line that writes (and reads) it.
_RDB_LINES = {10: (7, 0), 11: (7, 2), 12: (7, 4)}


def data_needs(paths: Paths) -> tuple[tuple[int, int], str] | None:
    """The oldest Redis line that can read the data, judged from its files, and why; or None.

    ``appendonlydir/`` is the multi-part AOF of Redis >= 7 (6.2 does not look
    there and would start empty); its base RDB's header names the RDB format.
    A safety net for directories without ``server.json`` (written before it
    existed, or by a server that never answered).
    """
    folder = os.path.join(paths.data_dir, "appendonlydir")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return None  # no multi-part AOF: 6.2's appendonly.aof, or no data yet
    need, why = (7, 0), f"{folder} is the multi-part AOF of Redis >= 7"
    for name in names:
        if not name.endswith(".base.rdb"):
            continue
        header = _read_head(os.path.join(folder, name), 9)
        if header.startswith(b"REDIS") and header[5:].isdigit():
            rdb = int(header[5:])
            line = _RDB_LINES.get(rdb, max(_RDB_LINES.values()) if rdb > 12 else None)
            if line is not None and line > need:
                need = line
                why = f"{os.path.join(folder, name)} is in RDB format {rdb}"
    return need, why


def _read_head(path: str, size: int) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as f:
        return f.read(size)


def refuse_downgrade(paths: Paths, binary: str, version: str | None) -> None:
    """Refuse to hand data written by a newer Redis line to ``binary`` (Redis ``version``).

    An older line cannot read what a newer one wrote: 6.2 ignores the
    ``appendonlydir/`` of Redis 7 and starts empty (a later write then forks
    the data), 7.0 refuses an RDB of 7.2. Lines are compared (7.0.15 and 7.0.11
    read the same files), first against ``server.json``, then the files
    themselves. Changes nothing. An unknown ``version`` is let through: such a
    binary fails to start for other reasons.

    Raises:
        EmbeddedServerError: which Redis wrote the data, and what to set.
    """
    if version is None:
        return
    line = version_tuple(version)[:2]
    record = read_record(paths)
    if record is not None and version_tuple(record.version)[:2] > line:
        where = f"{paths.data_dir} was last run with Redis {record.version} ({record.binary})"
        need = ".".join(map(str, version_tuple(record.version)[:2]))
        if os.path.realpath(record.binary) in known_binaries():
            hint = f"set {REDIS_SERVER_ENV}={record.binary}"
        else:
            # Not one we would find (a path set by hand, gone, or planted in a cloned
            # directory's server.json): named, not recommended.
            gone = "" if os.path.isfile(record.binary) else ", which is gone"
            hint = (
                f"set {REDIS_SERVER_ENV} to a redis-server >= {need} that you trust "
                f"(server.json names {record.binary}{gone})"
            )
    else:
        found = data_needs(paths)
        if found is None or found[0] <= line:
            return
        need = ".".join(map(str, found[0]))
        where = f"{paths.data_dir} holds data written by Redis >= {need} ({found[1]})"
        hint = f"set {REDIS_SERVER_ENV} to a redis-server >= {need}"
    raise EmbeddedServerError(
        f"The data directory {where}; {binary} is Redis {version}, an older release line "
        "that cannot read it (it would refuse it, or start empty). Nothing was changed. "
        f"To keep the data, {hint} and start again; or use another data directory "
        f"(--data-dir or {DATA_DIR_ENV})."
    )
