"""What the other features may use of the follow-ups; they import nothing else from this
package.

* :func:`after_request_closed` — a coach closed a request: schedule the rounds that check back
  with its person (call it in the transaction that closes the request).
"""

from __future__ import annotations

from .schedule import after_request_closed

__all__ = ["after_request_closed"]
