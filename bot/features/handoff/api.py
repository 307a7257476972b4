"""What the other features may use of the handoff; they import nothing else from this package.

* :func:`coach_id` — the active coach behind a Telegram user (everyone in ADMIN_IDS is one);
* :func:`queue_scrubs` and :func:`kick` — remove an erased person's messages from the coach
  chat: queue in the transaction, kick the outbox after the commit;
* :class:`CoachRoster` — refuses commands in the coaches' group from people who are not coaches
  as they arrive (the factory gives it to the arrival gate).
"""

from __future__ import annotations

from .outbox import kick
from .roster import ROSTER, CoachRoster
from .service import coach_id, queue_scrubs

__all__ = ["ROSTER", "CoachRoster", "coach_id", "kick", "queue_scrubs"]
