"""One leader per background duty among all API processes, through a lease row in SQL."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from sqlalchemy.orm import Session

from assay.records.base import utcnow
from assay.repositories.jobs import LeaseRepository

LEASE_TTL = dt.timedelta(seconds=15)


def holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Leadership:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.leases = LeaseRepository(session)

    def take(self, duty: str, holder: str) -> bool:
        """Take or renew ``duty``; a holder that stops renewing loses it after ``LEASE_TTL``."""
        taken = self.leases.try_take(duty, holder, utcnow(), LEASE_TTL)
        self.session.commit()
        return taken

    def give_up(self, duty: str, holder: str) -> None:
        """At shutdown, so that another process takes over at once."""
        self.leases.release(duty, holder)
        self.session.commit()
