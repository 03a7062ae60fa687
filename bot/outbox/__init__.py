"""The outbox: messages and durable work written with their cause, then delivered exactly once by a healthy fleet."""

from bot.outbox.claims import LEASE, MAX_ATTEMPTS, backoff
from bot.outbox.delivery import deliver_due
from bot.outbox.worker import OutboxWorker

__all__ = ["LEASE", "MAX_ATTEMPTS", "OutboxWorker", "backoff", "deliver_due"]
