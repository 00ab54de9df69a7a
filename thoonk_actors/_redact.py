"""Hide passwords in URLs before they are shown anywhere.

Synopsis: ``redact_url("redis://app:s3cret@host/0")`` → ``'redis://app:***@host/0'``.

Why one function: a Redis URL may carry a password (``user:pw@`` or
``?password=pw``), and every place that shows a URL -- a ``repr()`` saved
inside a notebook, an error message from a malformed ``THOONK_REDIS_URL``
that ends up in the journal, a log line -- must hide it the same way. The
function works on any text (a URL inside a message included) and never
needs the URL to be well formed: malformed URLs are exactly the ones that
end up in error messages.
"""

from __future__ import annotations

import re

#: What a hidden password is shown as.
MASK = "***"

# scheme://[user]:password@ -- the password runs to the last '@' before a
# space, quote or end, so a raw '/' or ':' inside a password (a malformed URL)
# is hidden whole; the slashes after the scheme may be missing or mistyped
# ("redis:\\/u:pw@h"): hiding too much is the safe side.
_USERINFO = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*:[/\\]*[^:@/\\\s'\"]*):(?P<secret>[^\s'\"]*)@"
)
# ?password=... or &password=... (redis-py accepts the password as a query option).
_QUERY = re.compile(r"(?P<head>[?&;](?:password|passwd|pass|pwd)=)(?P<secret>[^&#;\s'\"]*)", re.I)


def redact_url(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    Keeps the scheme, user name, host, port, database and other options, so a
    message still says where it was going.
    """
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@" if m["secret"] else m[0], text)
    return _QUERY.sub(lambda m: f"{m['head']}{MASK}" if m["secret"] else m[0], text)


def url_has_secret(text: str) -> bool:
    """Whether ``text`` holds a URL password that :func:`redact_url` would hide."""
    return redact_url(text) != text
