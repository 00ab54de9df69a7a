"""Where and how to reach a Redis server, parsed from a URL.

Synopsis: ``RedisConfig.from_url("redis://user:pw@host:6379/2?client_name=w1")``.

We use redis-py's URL grammar (``redis.connection.parse_url``) so every URL a
redis-py user already has (``redis://``, ``rediss://``, ``unix://`` and their
query options) means the same thing here.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict, Unpack
from urllib.parse import quote

from redis.connection import parse_url

from .._errors import UsageError
from .._redact import redact_url, url_has_secret

#: Environment variable holding the Redis URL to use when a caller gives none.
URL_ENV = "THOONK_REDIS_URL"

log = logging.getLogger(__name__)

#: The TLS options a ``rediss://`` URL (or ``open_redis`` keyword) may carry.
_TLS_OPTIONS = (
    "ssl_ca_certs",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_cert_reqs",
    "ssl_check_hostname",
)
_warned_unverified = False

_CERT_REQS = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}


class RedisOptions(TypedDict, total=False):
    """The keyword options of ``open_redis``, ``open_cluster``, ``open_thoonk`` and ``connect``.

    Synopsis: ``open_redis(url, response_timeout=5, client_name="w1")``.

    The fields of :class:`RedisConfig` (see there what each means); each one
    given overrides what the URL says. Spelled out as a TypedDict so type
    checkers and editors know them; at run time an unknown name raises
    :class:`UsageError` naming the close matches (``RedisConfig.check_options``).
    A test keeps this list equal to the config's fields.
    """

    host: str
    port: int
    path: str | None
    tls: bool
    username: str | None
    password: str | None
    db: int
    client_name: str | None
    ssl_ca_certs: str | None
    ssl_certfile: str | None
    ssl_keyfile: str | None
    ssl_cert_reqs: Literal["none", "optional", "required"]
    ssl_check_hostname: bool
    connect_timeout: float
    response_timeout: float | None
    reconnect_timeout: float
    revive: Callable[[], Awaitable[None]] | None
    health_timeout: float | None


@dataclass(frozen=True, slots=True)
class RedisConfig:
    """Everything needed to open one connection to one Redis server.

    Times are seconds. ``response_timeout`` bounds how long a non-blocking
    command may wait for its reply before the connection is declared broken
    (a hung server must not hang us); ``None`` waits for ever.
    ``reconnect_timeout`` bounds how long a command waits for the server to
    come back before it fails with :class:`ThoonkConnectionError`.

    ``health_timeout`` (URL ``?health_timeout=15``) bounds how long a
    connection may stay silent while we wait on it before it is declared dead
    and replaced: a NAT table or load balancer that drops a flow without a
    word is noticed within it. Replies on the shared connection must come
    within it (it should exceed your slowest script); blocking reads ask the
    server to block at most half of it and allow the other half as margin;
    the pub/sub connection PINGs every third of it. TCP keepalive probes
    follow it too. ``None`` turns these checks off.
    """

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None
    tls: bool = False
    username: str | None = None
    password: str | None = None
    db: int = 0
    client_name: str | None = None
    ssl_ca_certs: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_cert_reqs: str = "required"
    ssl_check_hostname: bool = True
    connect_timeout: float = 5.0
    response_timeout: float | None = 30.0
    reconnect_timeout: float = 10.0
    # Awaited (once per reconnect) when a connection cannot be opened: the
    # embedded package sets it to restart its server if that died. The
    # transport only calls it; it knows nothing of what it does.
    revive: Callable[[], Awaitable[None]] | None = field(default=None, compare=False, repr=False)
    health_timeout: float | None = 15.0

    @classmethod
    def from_url(cls, url: str, **overrides: Unpack[RedisOptions]) -> RedisConfig:
        """Parse ``redis://``, ``rediss://`` or ``unix://`` (redis-py's grammar).

        Raises:
            UsageError: the URL is not one of those forms, or an option is unknown or invalid.
        """
        if not isinstance(url, str):
            raise UsageError(f"a Redis URL must be a string, not {type(url).__name__}")
        cls.check_options(overrides)
        try:
            parsed: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        except ValueError as exc:
            # The parser's own words may quote a piece of the password (a raw
            # '/' in it makes the rest look like a port): hide them then.
            reason = "it holds a password, so details are hidden" if url_has_secret(url) else exc
            raise UsageError(
                f"{redact_url(url)!r} is not a Redis URL ({reason}); use redis://host:port/db, "
                "rediss://host:port/db (TLS) or unix:///path/to/redis.sock?db=0"
            ) from None
        kwargs: dict[str, Any] = {}
        conn_class = parsed.pop("connection_class", None)
        if conn_class is not None and conn_class.__name__ == "SSLConnection":
            kwargs["tls"] = True
        tls_given = sorted({key for key in (*parsed, *overrides) if key.startswith("ssl")})
        if tls_given and not overrides.get("tls", kwargs.get("tls", False)):
            raise _plaintext_refusal(tls_given)
        for key, value in parsed.items():
            if key in ("host", "port", "path", "username", "password", "db", "client_name"):
                kwargs[key] = value
            elif key == "socket_connect_timeout":
                kwargs["connect_timeout"] = float(value)
            elif key == "socket_timeout":
                kwargs["response_timeout"] = float(value)
            elif key in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs"):
                kwargs[key] = value
            elif key == "ssl_check_hostname":
                kwargs[key] = bool(value)
            elif key in ("health_timeout", "reconnect_timeout", "connect_timeout"):
                kwargs[key] = _seconds(key, value)
            elif key.startswith("ssl"):
                # An ignored TLS option would be a silent downgrade (a minimum
                # version, a CRL...): refuse what we do not implement.
                raise UsageError(
                    f"the TLS option {key} is not supported; supported: {', '.join(_TLS_OPTIONS)}"
                )
            # Other redis-py options (health_check_interval, ...) do not apply here.
        kwargs.update(overrides)
        config = cls(**kwargs)
        config._validate()
        return config

    @staticmethod
    def check_options(options: Mapping[str, object]) -> None:
        """Refuse option names that are not fields of the config (a typo would be ignored).

        Synopsis: ``RedisConfig.check_options(options)`` before any work is done.

        Raises:
            UsageError: naming each unknown option, with the close matches.
        """
        unknown = sorted(set(options) - _OPTION_NAMES)
        if not unknown:
            return
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, sorted(_OPTION_NAMES), n=2)
            hints.append(f"{name!r}" + (f" (did you mean {' or '.join(close)}?)" if close else ""))
        raise UsageError(
            f"unknown Redis option{'s' if len(unknown) > 1 else ''} {', '.join(hints)}; "
            f"the options are: {', '.join(sorted(_OPTION_NAMES))}"
        )

    def _validate(self) -> None:
        global _warned_unverified
        if self.ssl_cert_reqs not in _CERT_REQS:
            raise UsageError(
                f"ssl_cert_reqs must be one of {sorted(_CERT_REQS)}, not {self.ssl_cert_reqs!r}"
            )
        if not self.tls:
            given = [name for name in _TLS_OPTIONS if getattr(self, name) != _TLS_DEFAULTS[name]]
            if given:
                raise _plaintext_refusal(given)
        elif self.ssl_cert_reqs == "none" and not _warned_unverified:
            _warned_unverified = True
            log.warning(
                "TLS to %s with ssl_cert_reqs=none: the server's certificate is not "
                "checked, so anyone on the network path can impersonate it; give "
                "ssl_ca_certs instead",
                self.describe(),
            )
        if not isinstance(self.db, int) or self.db < 0:
            raise UsageError(f"the database number must be an integer ≥ 0, not {self.db!r}")
        if self.health_timeout is not None and not (
            isinstance(self.health_timeout, int | float)
            and not isinstance(self.health_timeout, bool)
            and 0 < self.health_timeout < 86_400
        ):
            raise UsageError(
                f"health_timeout must be a number of seconds above 0 (15 by default), "
                f"not {self.health_timeout!r}"
            )

    @property
    def reply_timeout(self) -> float | None:
        """How long a reply on the shared connection may take before the connection is dead."""
        limits = [t for t in (self.response_timeout, self.health_timeout) if t is not None]
        return min(limits) if limits else None

    @property
    def max_block(self) -> float:
        """The longest server-side block a blocking read should ask for (0 = any).

        Half the health timeout: with the other half as margin, a blocking read
        on a silently dead connection is noticed within ``health_timeout``.
        """
        return 0.0 if self.health_timeout is None else self.health_timeout / 2

    @property
    def block_margin(self) -> float:
        """How long past its server-side timeout a blocking read may take."""
        return 0.0 if self.health_timeout is None else self.health_timeout / 2

    def replace(self, **changes: Unpack[RedisOptions]) -> RedisConfig:
        """A copy with some fields changed (``config.replace(db=3)``).

        Raises:
            UsageError: an unknown option.
        """
        self.check_options(changes)
        return dataclasses.replace(self, **changes)

    def ssl_context(self) -> ssl.SSLContext:
        """The client TLS context this config asks for."""
        context = ssl.create_default_context(cafile=self.ssl_ca_certs)
        if self.ssl_certfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        context.check_hostname = self.ssl_check_hostname and self.ssl_cert_reqs != "none"
        context.verify_mode = _CERT_REQS[self.ssl_cert_reqs]
        return context

    def describe(self) -> str:
        """Where this config points, for messages (never shows the password)."""
        if self.path is not None:
            return f"unix://{self.path}?db={self.db}"
        scheme = "rediss" if self.tls else "redis"
        user = f"{quote(self.username)}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}/{self.db}"

    def __repr__(self) -> str:
        return f"RedisConfig({self.describe()!r})"


def _plaintext_refusal(given: list[str]) -> UsageError:
    # Accepting TLS options on a plaintext URL would connect in clear text
    # while the user believes the connection is verified TLS.
    return UsageError(
        f"{', '.join(given)} given for a plaintext connection; use a rediss:// URL for TLS "
        "(a unix:// or redis:// URL never encrypts)"
    )


def _seconds(key: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"URL option {key} must be a number of seconds, not {value!r}") from None


_TLS_DEFAULTS = {name: getattr(RedisConfig(), name) for name in _TLS_OPTIONS}
_OPTION_NAMES = frozenset(f.name for f in dataclasses.fields(RedisConfig))
