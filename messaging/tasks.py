"""Importing these modules registers messaging's jobs in every process (backend.jobs)."""

from messaging import outbox, services  # noqa: F401
from messaging.transports import capture  # noqa: F401
