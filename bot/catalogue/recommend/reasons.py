"""Reasons as sentences: :func:`render_reasons` turns reason codes into "Because you are in
Karkkila and you want to start a business." with the ``catalogue.reason.*`` texts."""

from __future__ import annotations

from collections.abc import Sequence

from ..schedule import TextLookup
from ..tags import (
    text_key,
)
from .profile import Reason

# --- rendering --------------------------------------------------------------------------------


def reason_params(reason: Reason, t: TextLookup) -> dict[str, str]:
    """The parameters a reason text may use; vocabulary values become their names."""
    params = dict(reason.params)
    municipality = reason.params.get("municipality")
    if municipality:
        params["municipality"] = t(text_key("municipality", municipality), {})
        params["municipality_in"] = t(text_key("municipality_in", municipality), {})
    return params


def render_reason(reason: Reason, t: TextLookup) -> str:
    """One reason as a phrase: "you want to start a business"."""
    return t(reason.text_key, reason_params(reason, t))


def render_reasons(reasons: Sequence[Reason], t: TextLookup, *, limit: int = 2) -> str:
    """The first ``limit`` (at most two) reasons as one sentence, or "" if there are none:
    "Because you are in Karkkila and you want to start a business." """
    phrases = [render_reason(reason, t) for reason in reasons[: max(0, min(limit, 2))]]
    if not phrases:
        return ""
    if len(phrases) == 1:
        return t("catalogue.reason.one", {"first": phrases[0]})
    return t("catalogue.reason.two", {"first": phrases[0], "second": phrases[1]})
