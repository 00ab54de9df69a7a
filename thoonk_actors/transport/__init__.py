"""Trio-native Redis transport: connections, pipelining, scripts, pub/sub.

It knows nothing of Thoonk; the objects layer builds on its public names.
"""

from ._client import LinkState as LinkState
from ._client import RedisClient as RedisClient
from ._client import ScriptLike as ScriptLike
from ._client import open_redis as open_redis
from ._cluster import ClusterClient as ClusterClient
from ._cluster import ClusterPubSub as ClusterPubSub
from ._cluster import command_slot as command_slot
from ._cluster import is_cluster_url as is_cluster_url
from ._cluster import open_cluster as open_cluster
from ._cluster import parse_cluster_url as parse_cluster_url
from ._config import URL_ENV as URL_ENV
from ._config import RedisConfig as RedisConfig
from ._config import RedisOptions as RedisOptions
from ._connection import Connection as Connection
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
from ._errors import ThoonkTLSError as ThoonkTLSError
from ._errors import ThoonkTryAgainError as ThoonkTryAgainError
from ._errors import ThoonkWrongTypeError as ThoonkWrongTypeError
from ._protocol import Arg as Arg
from ._protocol import Command as Command
from ._protocol import pack_command as pack_command
from ._pubsub import PubSub as PubSub
from ._pubsub import open_pubsub as open_pubsub
from ._subscription import DEFAULT_BUFFER_BYTES as DEFAULT_BUFFER_BYTES
from ._subscription import Gap as Gap
from ._subscription import Message as Message
from ._subscription import Subscription as Subscription
from ._subscription import SubscriptionStatistics as SubscriptionStatistics
