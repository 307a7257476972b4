"""What the recommender is given and gives back: the person's :class:`Profile` (read from
their career-plan answers), a :class:`Recommendation` and its :class:`Reason` codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..schedule import Occurrence
from ..schema import Audience, Item
from ..tags import (
    AGE_GROUPS,
    FIELDS,
    FORMS,
    HELP_WANTED,
    LANGUAGES,
    MUNICIPALITIES,
    SITUATIONS,
    UNEMPLOYMENT_DURATIONS,
    from_yaml_number,
    reason_key,
)

# --- the person -------------------------------------------------------------------------------


def _one(answers: Mapping[str, Any], key: str, vocabulary: Sequence[str]) -> str | None:
    value = answers.get(key)
    if isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    value = from_yaml_number(value, vocabulary)
    return value if isinstance(value, str) and value in vocabulary else None


def _many(answers: Mapping[str, Any], key: str, vocabulary: Sequence[str]) -> tuple[str, ...]:
    value = answers.get(key)
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list | tuple | set | frozenset):
        return ()
    ordered = values if isinstance(values, list | tuple) else sorted(values, key=str)
    cleaned = (from_yaml_number(v, vocabulary) for v in ordered)
    return tuple(dict.fromkeys(v for v in cleaned if isinstance(v, str) and v in vocabulary))


@dataclass(frozen=True, slots=True)
class Profile:
    """The answers the recommender uses, cleaned: unknown keys and values are ignored, so a
    changed dialog can never make recommendations fail."""

    language: str | None = None
    #: languages the person reads (their UI language and ``languages_read``); empty = unknown
    reads: frozenset[str] = frozenset()
    situation: str | None = None
    unemployment_duration: str | None = None
    age_group: str | None = None
    #: one of the catalogue's municipalities, or None (not answered, or ``other``)
    municipality: str | None = None
    international_student: bool | None = None
    interests: tuple[str, ...] = ()
    #: the person also chose "other or not sure yet" among the fields
    interests_open: bool = False
    help_wanted: tuple[str, ...] = ()
    preferred_form: tuple[str, ...] = ()

    @classmethod
    def from_answers(cls, answers: Mapping[str, Any]) -> Profile:
        # a language variant (plain Finnish, ``fi-selko``) reads what its base language reads
        base = answers.get("language")
        base = base.split("-", 1)[0] if isinstance(base, str) else base
        language = _one({"language": base}, "language", LANGUAGES)
        reads = set(_many(answers, "languages_read", LANGUAGES))
        if language:
            reads.add(language)
        student = answers.get("international_student")
        situation = _one(answers, "situation", SITUATIONS)
        return cls(
            language=language,
            reads=frozenset(reads),
            situation=situation,
            unemployment_duration=(
                _one(answers, "unemployment_duration", UNEMPLOYMENT_DURATIONS)
                if situation in (None, "unemployed")
                else None
            ),
            age_group=_one(answers, "age_group", AGE_GROUPS),
            municipality=_one(answers, "municipality", MUNICIPALITIES),
            international_student=(
                True if student in ("yes", True) else False if student in ("no", False) else None
            ),
            interests=_many(answers, "interests", FIELDS),
            interests_open="other" in _many(answers, "interests", (*FIELDS, "other")),
            help_wanted=_many(answers, "help_wanted", HELP_WANTED),
            preferred_form=_many(answers, "preferred_form", FORMS),
        )


def audience_gaps(audience: Audience, profile: Profile) -> tuple[str, ...]:
    """The groups ``audience`` names that the person has not said they belong to, in the
    order ``age``, ``situation``, ``unemployment``, ``international``; empty when the item is
    meant for them. An unanswered question counts as not belonging: an item for people over
    50 is suggested only to someone who said they are over 50."""
    gaps: list[str] = []
    if audience.age_groups and profile.age_group not in audience.age_groups:
        gaps.append("age")
    if audience.situations and profile.situation not in audience.situations:
        gaps.append("situation")
    if audience.unemployment and profile.unemployment_duration not in audience.unemployment:
        gaps.append("unemployment")
    if audience.international_students and profile.international_student is not True:
        gaps.append("international")
    return tuple(gaps)


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reason:
    """Why an item is recommended, as a code and parameters (see ``tags.ReasonCode``)."""

    code: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def text_key(self) -> str:
        return reason_key(self.code, self.params)


@dataclass(frozen=True, slots=True)
class Recommendation:
    item: Item
    score: int
    #: the occurrence to offer: the next meeting, or the first meeting of a course run
    occurrence: Occurrence
    #: most important first; show at most two (:func:`render_reasons` does)
    reasons: tuple[Reason, ...]
    #: free seats, or None when the item has no capacity limit
    seats_left: int | None = None
