"""Funder-style reports: ``urapolku report`` and ``/report`` for admins. They read the
anonymous counters (``stat_events``) the other features record.

* :mod:`.report` — builds a report from :mod:`db.repositories.reports` and writes text, CSV or JSON;
* :mod:`.chart` — its PNG chart;
* :mod:`.router` — ``/report`` in a private chat, admins only.
"""
