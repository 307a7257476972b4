"""Funder-style reports: ``urapolku report`` and ``/report`` for admins. They read the
anonymous counters (``stat_events``) the other features record.

* :mod:`.report` — builds a report from :mod:`db.repositories.reports` and writes text, CSV or JSON;
* :mod:`.disclosure` — which counts are hidden (``<5``, ``x``, withheld) so none can be worked out;
* :mod:`.chart` — its PNG chart;
* :mod:`.router` — ``/report`` in a private chat, admins only.
"""
