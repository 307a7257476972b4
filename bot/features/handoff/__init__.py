"""Handoff to a human coach: a person who asks for a human is never lost.

* :mod:`.actions` — the ``handoff`` dialog action: stores the request, then promises an answer;
* :mod:`.service` — the rules (requests, coaches, claim/release/close, relaying);
* :mod:`.outbox` — delivery to Telegram through the ``outbox`` table, at least once and never
  twice (read its docstring for the unknown-outcome case);
* :mod:`.cards` — what coaches see (HTML, everything escaped);
* :mod:`.coach_router`, :mod:`.person_router`, :mod:`.admin` — thin handlers;
* :mod:`.jobs` — outbox delivery, re-announcements, silence reminders, the morning digest;
* :mod:`.office_hours`, :mod:`.section` — ``content/office_hours.yaml`` and
  ``content/saved_replies.yaml``, the handoff's section of the content snapshot;
* :mod:`.api` — what the other features may use (the coach check, clearing the coach chat).
"""
