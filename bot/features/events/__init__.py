"""Events and trainings in the bot: suggestions with reasons, the browser, item cards,
sign-ups with a waiting list, calendar files, reminders, "not for me", poster links and their
QR codes. See ``docs/EVENTS.md``.

* :mod:`.actions` — the dialog actions ``recommend``, ``browse_events``, ``open_event_link``;
* :mod:`.router` — the browser's buttons, ``/start ev_<id>``, ``/mysignups``;
* :mod:`.browser` — what a person sees and can do, one turn at a time;
* :mod:`.callbacks` — the buttons' data (``e:…``), checked on arrival;
* :mod:`.jobs` — reminders and other notices, sent once;
* :mod:`.qr` — ``urapolku qr``.
"""
