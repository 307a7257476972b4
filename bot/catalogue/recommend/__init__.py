"""Recommendations: from a person's career-plan answers to ranked upcoming items, with reasons.

Pure and deterministic: the same catalogue, answers, ``now``, seats and dismissals always give
the same list; nothing here talks to Telegram or a database.

* :mod:`.profile` — the person's :class:`Profile`, a :class:`Recommendation`, :class:`Reason`;
* :mod:`.ranker` — :class:`Recommender` (filters, scores, ties; read its docstring for the rules)
  and :func:`recommend`;
* :mod:`.reasons` — reason codes as sentences (:func:`render_reasons`).
"""

from .profile import Profile, Reason, Recommendation
from .ranker import Recommender, recommend, recommender_for
from .reasons import reason_params, render_reason, render_reasons

__all__ = [
    "Profile",
    "Reason",
    "Recommendation",
    "Recommender",
    "reason_params",
    "recommend",
    "recommender_for",
    "render_reason",
    "render_reasons",
]
