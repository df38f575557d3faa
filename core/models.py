"""Imports every domain's tables so Base.metadata is complete (Alembic, tests).

Each domain adds its own line here when it adds a models.py.
"""

from core.accounts import models as accounts  # noqa: F401
from core.adjustments import models as adjustments  # noqa: F401
from core.agents import models as agents  # noqa: F401
from core.arrangements import models as arrangements  # noqa: F401
from core.audit import models as audit  # noqa: F401
from core.auth import models as auth  # noqa: F401
from core.billing import models as billing  # noqa: F401
from core.consent import models as consent  # noqa: F401
from core.conversations import models as conversations  # noqa: F401
from core.customers import models as customers  # noqa: F401
from core.db import Base
from core.deposits import models as deposits  # noqa: F401
from core.network import models as network  # noqa: F401
from core.notifications import models as notifications  # noqa: F401
from core.outages import models as outages  # noqa: F401
from core.payments import models as payments  # noqa: F401
from core.premises import models as premises  # noqa: F401
from core.service_orders import models as service_orders  # noqa: F401
from core.storm import models as storm  # noqa: F401

metadata = Base.metadata
