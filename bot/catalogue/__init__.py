"""Events and trainings: the catalogue format, schedules, recommendations and calendar files.

A pure domain package: no Telegram, no database, no clock (callers pass ``now``), and no
person-visible text (reasons are codes; texts live in ``content/texts/catalogue.*.yaml``).

>>> catalogue = load_catalogue(Path("content/catalogue"))           # doctest: +SKIP
>>> recs = recommend(catalogue, answers, now=datetime.now(HELSINKI))  # doctest: +SKIP
>>> render_reasons(recs[0].reasons, lambda key, p: texts.get(key, "en", **p))  # doctest: +SKIP
'Because you are in Karkkila and you want to start a business.'
"""

from __future__ import annotations

from .ics import event_ics, events_ics
from .loader import (
    check_catalogue,
    check_text_keys,
    collect_catalogue,
    lint_catalogue,
    load_catalogue,
)
from .recommend import (
    Profile,
    Reason,
    Recommendation,
    Recommender,
    recommend,
    recommender_for,
    render_reason,
    render_reasons,
)
from .schedule import (
    Occurrence,
    TextLookup,
    is_past,
    iter_occurrences,
    next_joinable,
    next_occurrences,
    render_occurrence,
    render_schedule,
    run_of,
)
from .schema import HELSINKI, Catalogue, Item, Source
from .tags import required_text_keys, text_key

__all__ = [
    "HELSINKI",
    "Catalogue",
    "Item",
    "Occurrence",
    "Profile",
    "Reason",
    "Recommendation",
    "Recommender",
    "Source",
    "TextLookup",
    "check_catalogue",
    "check_text_keys",
    "collect_catalogue",
    "event_ics",
    "events_ics",
    "is_past",
    "iter_occurrences",
    "lint_catalogue",
    "load_catalogue",
    "next_joinable",
    "next_occurrences",
    "recommend",
    "recommender_for",
    "render_occurrence",
    "render_reason",
    "render_reasons",
    "render_schedule",
    "required_text_keys",
    "run_of",
    "text_key",
]
