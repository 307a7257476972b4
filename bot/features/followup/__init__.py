"""Follow-ups: "how are you doing now?" some weeks after an attended event or
coaching and after a closed coach request, and the coaches' attendance list (``/event``).

* :mod:`.schedule` — writes the ``followups`` rows, in the transaction of what they follow;
* :mod:`.jobs` — the background job that starts the ``followup`` dialog when a row is due;
* :mod:`.actions` — the dialog's ``followup_record`` action (answers → anonymous counters);
* :mod:`.attendance` — ``/event <item id>`` in the coach group: who came;
* :mod:`.api` — what the other features may use (scheduling after a closed request).
"""
