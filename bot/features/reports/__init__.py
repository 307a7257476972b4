"""Funder-style reports (issue 7): ``urapolku report`` and ``/report`` for admins.

* :mod:`.report` — builds a report from :mod:`db.reports` and writes text, CSV or JSON;
* :mod:`.chart` — its PNG chart;
* :mod:`.stats` — the anonymous counters the reports need that no other feature records;
* :mod:`.router` — ``/report`` in a private chat, admins only.
"""
