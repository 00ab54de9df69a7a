"""Trio-native Redis transport: connections, pipelining, scripts, pub/sub.

It knows nothing of Thoonk; the objects layer builds on its public names.
"""

from ._client import RedisClient as RedisClient
from ._client import ScriptLike as ScriptLike
from ._client import open_redis as open_redis
from ._config import RedisConfig as RedisConfig
from ._connection import Connection as Connection
from ._embedded import EmbeddedServer as EmbeddedServer
from ._embedded import default_data_dir as default_data_dir
from ._embedded import embedded_server_status as embedded_server_status
from ._embedded import ensure_embedded_server as ensure_embedded_server
from ._embedded import find_redis_server as find_redis_server
from ._embedded import run_embedded_server_foreground as run_embedded_server_foreground
from ._embedded import stop_embedded_server as stop_embedded_server
from ._errors import ThoonkAskError as ThoonkAskError
from ._errors import ThoonkAuthenticationError as ThoonkAuthenticationError
from ._errors import ThoonkBusyError as ThoonkBusyError
from ._errors import ThoonkClusterDownError as ThoonkClusterDownError
from ._errors import ThoonkConnectionError as ThoonkConnectionError
from ._errors import ThoonkCrossSlotError as ThoonkCrossSlotError
from ._errors import ThoonkExecAbortError as ThoonkExecAbortError
from ._errors import ThoonkLoadingError as ThoonkLoadingError
from ._errors import ThoonkMasterDownError as ThoonkMasterDownError
from ._errors import ThoonkMovedError as ThoonkMovedError
from ._errors import ThoonkNoPermissionError as ThoonkNoPermissionError
from ._errors import ThoonkNoScriptError as ThoonkNoScriptError
from ._errors import ThoonkOutOfMemoryError as ThoonkOutOfMemoryError
from ._errors import ThoonkReadOnlyError as ThoonkReadOnlyError
from ._errors import ThoonkResponseError as ThoonkResponseError
from ._errors import ThoonkTimeoutError as ThoonkTimeoutError
from ._errors import ThoonkTryAgainError as ThoonkTryAgainError
from ._errors import ThoonkWrongTypeError as ThoonkWrongTypeError
from ._protocol import Arg as Arg
from ._protocol import Command as Command
from ._protocol import pack_command as pack_command
from ._pubsub import PubSub as PubSub
from ._pubsub import open_pubsub as open_pubsub
from ._resolve import URL_ENV as URL_ENV
from ._resolve import resolve_url as resolve_url
from ._resolve import resolve_url_sync as resolve_url_sync
from ._subscription import Gap as Gap
from ._subscription import Message as Message
from ._subscription import Subscription as Subscription
from ._subscription import SubscriptionStatistics as SubscriptionStatistics
