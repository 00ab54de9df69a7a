"""Trio-native Redis transport: connections, pipelining, scripts, pub/sub.

It knows nothing of Thoonk; the objects layer builds on its public names.
"""

from ._client import RedisClient as RedisClient
from ._client import ScriptLike as ScriptLike
from ._client import open_redis as open_redis
from ._config import URL_ENV as URL_ENV
from ._config import RedisConfig as RedisConfig
from ._connection import Connection as Connection
from ._errors import ThoonkAuthenticationError as ThoonkAuthenticationError
from ._errors import ThoonkConnectionError as ThoonkConnectionError
from ._errors import ThoonkTimeoutError as ThoonkTimeoutError
from ._protocol import Arg as Arg
from ._protocol import Command as Command
from ._protocol import pack_command as pack_command
from ._pubsub import Gap as Gap
from ._pubsub import Message as Message
from ._pubsub import PubSub as PubSub
from ._pubsub import Subscription as Subscription
from ._pubsub import SubscriptionStatistics as SubscriptionStatistics
from ._pubsub import open_pubsub as open_pubsub
