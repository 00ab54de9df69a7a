"""thoonk-actors: Thoonk (persistent feeds, queues and jobs on Redis) for Python on trio."""

from ._errors import ClaimLostError as ClaimLostError
from ._errors import DuplicateIdError as DuplicateIdError
from ._errors import EmbeddedServerError as EmbeddedServerError
from ._errors import InvalidConfigError as InvalidConfigError
from ._errors import InvalidIdError as InvalidIdError
from ._errors import InvalidNameError as InvalidNameError
from ._errors import NoSuchObjectError as NoSuchObjectError
from ._errors import NotClaimedError as NotClaimedError
from ._errors import NotFoundError as NotFoundError
from ._errors import NotStalledError as NotStalledError
from ._errors import ObjectExistsError as ObjectExistsError
from ._errors import PayloadError as PayloadError
from ._errors import PayloadTooLargeError as PayloadTooLargeError
from ._errors import RefusedError as RefusedError
from ._errors import ThoonkAuthenticationError as ThoonkAuthenticationError
from ._errors import ThoonkConnectionError as ThoonkConnectionError
from ._errors import ThoonkError as ThoonkError
from ._errors import ThoonkTimeoutError as ThoonkTimeoutError
from ._errors import UsageError as UsageError
from ._errors import WrongTypeError as WrongTypeError

__version__ = "0.1.0"
