"""The recommender: from a :class:`~.profile.Profile` to ranked upcoming items, with reasons.

Pure and deterministic: the same catalogue, answers, ``now``, seats and dismissals always give
the same list. Nothing here talks to Telegram or a database; the caller passes the seats
already taken and what the person dismissed.

How an item is chosen
---------------------

*Hard filters* — an item is left out when

* it has no joinable occurrence between ``now`` and ``now + horizon_days`` (past, or a course
  run that has already begun);
* it is full (``seats_taken[id] >= capacity``);
* it is given in no language the person reads (their UI ``language`` plus ``languages_read``;
  no language known = no filter);
* it is neither in the person's municipality nor online (municipality unknown or ``other``:
  online items only);
* its audience is ``strict`` and a known answer does not match (Ohjaamo for a 50-year-old);
* the person dismissed it (and, for ``already_done``, every item of the same ``series``).

*Soft scores* — integers, so ties are exact; see the ``W_*`` and ``P_*`` constants:

* wanted help ↔ topics (:data:`~bot.catalogue.tags.HELP_TOPICS`), for each help that matches;
* interests ↔ the item's fields of work;
* audience fit: age group, situation, long-term unemployment, international students
  (a bonus when it is aimed at the person, a penalty when aimed at someone else);
* held in the person's own municipality; preferred forms (in person, online, group,
  one-to-one); given in the person's own language; starts soon;
* lowered when it resembles a dismissed item (:func:`dismissal_penalties`).

Ties are broken by the next date, then by id.

Reasons are codes with parameters (:class:`Reason`), never text: :func:`render_reasons` turns
the first two into a sentence with the ``catalogue.reason.*`` texts, e.g. "Because you are in
Karkkila and you want to start a business."

Speed: :class:`Recommender` builds its indexes once per catalogue (candidate lists per
municipality, bit masks for topics, fields, forms and audience, similarity indexes) and caches
each item's next joinable occurrence until that occurrence starts, so one profile costs a pass
over the items of one municipality plus the online ones. :func:`recommend` is a thin wrapper
that reuses one recommender per catalogue.
"""

import heapq
import weakref
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ..schedule import Occurrence, next_joinable, time_slots
from ..schema import Catalogue, Item
from ..tags import (
    AGE_GROUPS,
    FIELDS,
    FORMS,
    HELP_TOPICS,
    HELP_WANTED,
    LANGUAGES,
    MUNICIPALITIES,
    SITUATIONS,
    TOPICS,
    UNEMPLOYMENT_DURATIONS,
)
from .profile import Profile, Reason, Recommendation

# Score weights. Bonuses (W_) and penalties (P_) are whole numbers so that ties are exact.
W_HELP: Final = 30  # per wanted help the item's topics answer
W_FIELD: Final = 15  # the item is about a field the person is interested in
W_AGE: Final = 20  # aimed at the person's age group
P_AGE: Final = 30  # aimed at another age group
W_SITUATION: Final = 15
P_SITUATION: Final = 20
W_UNEMPLOYMENT: Final = 15  # aimed at the person's unemployment duration (long-term, …)
P_UNEMPLOYMENT: Final = 15
W_INTERNATIONAL: Final = 40  # international students' item, and the person is one
P_INTERNATIONAL: Final = 40
P_UNKNOWN: Final = 5  # aimed at a group, and the person did not say whether they belong
W_LOCAL: Final = 10  # held in the person's own municipality
W_FORM: Final = 8  # per preferred form the item is given in
W_LANGUAGE: Final = 5  # given in the person's own (UI) language
W_SOON: Final = 4  # minus one per full week until it starts
# Dismissals: how much similar items are lowered.
P_DISMISS_STRONG: Final = 30
P_DISMISS_WEAK: Final = 10

#: Reason display priority (higher first) for reasons that are not score weights.
_PRIORITY_PLACE: Final = 1000
_PRIORITY_ONLINE_WANTED: Final = 900
_PRIORITY_LANGUAGE: Final = 9
_PRIORITY_ONLINE: Final = 6
_PRIORITY_SOON: Final = 3
_PRIORITY_OPEN: Final = 1

_DAY: Final = 86_400.0
_INF: Final = float("inf")


def _bits(vocabulary: Sequence[str]) -> dict[str, int]:
    return {value: 1 << index for index, value in enumerate(vocabulary)}


def _mask(values: Iterable[str], bits: Mapping[str, int]) -> int:
    mask = 0
    for value in values:
        mask |= bits.get(value, 0)
    return mask


_LANGUAGE_BIT: Final = _bits(LANGUAGES)
_TOPIC_BIT: Final = _bits(TOPICS)
_FIELD_BIT: Final = _bits(FIELDS)
_FORM_BIT: Final = _bits(FORMS)
_AGE_BIT: Final = _bits(AGE_GROUPS)
_SITUATION_BIT: Final = _bits(SITUATIONS)
_UNEMPLOYMENT_BIT: Final = _bits(UNEMPLOYMENT_DURATIONS)
_HELP_MASK: Final[dict[str, int]] = {
    help_: _mask(HELP_TOPICS[help_], _TOPIC_BIT) for help_ in HELP_WANTED
}


# --- the recommender --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """What the scorer needs of one item, precomputed."""

    index: int
    item_id: str
    languages: int
    municipalities: frozenset[str]
    online: bool
    topics: int
    fields: int
    forms: int
    ages: int
    situations: int
    unemployment: int
    international: bool
    strict: bool
    everyone: bool
    capacity: int | None


@dataclass(slots=True)
class _Person:
    """A profile turned into masks, once per call."""

    reads: int
    municipality: str | None
    own_language: int
    language: str | None
    helps: list[tuple[str, int]]
    interests: int
    interest_order: tuple[str, ...]
    forms: int
    form_order: tuple[str, ...]
    prefers_online: bool
    age: int
    situation: int
    unemployment: int
    unemployment_name: str | None
    international: bool | None
    profile: Profile


class Recommender:
    """Recommendations over one catalogue; build once, call :meth:`recommend` many times."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        # Items in id order, so that an index comparison is the id tie-break.
        self._items: tuple[Item, ...] = tuple(sorted(catalogue.items, key=lambda i: i.id))
        self._index = {item.id: n for n, item in enumerate(self._items)}
        self._rows = tuple(self._row(n, item) for n, item in enumerate(self._items))
        online = [n for n, item in enumerate(self._items) if item.online]
        self._online = tuple(online)
        self._by_municipality: dict[str, tuple[int, ...]] = {
            m: tuple(
                n for n, item in enumerate(self._items) if item.online or m in item.municipalities
            )
            for m in MUNICIPALITIES
        }
        # Similarity indexes for dismissals.
        self._by_kind: dict[str, list[int]] = defaultdict(list)
        self._by_series: dict[str, list[int]] = defaultdict(list)
        self._by_field: dict[str, list[int]] = defaultdict(list)
        self._by_place: dict[str, list[int]] = defaultdict(list)
        self._by_slot: dict[tuple[int, int], list[int]] = defaultdict(list)
        self._slots: list[frozenset[tuple[int, int]]] = []
        for n, item in enumerate(self._items):
            self._by_kind[item.kind].append(n)
            if item.series:
                self._by_series[item.series].append(n)
            for work_field in item.fields:
                self._by_field[work_field].append(n)
            place = self._place_key(item)
            if place:
                self._by_place[place].append(n)
            slots = time_slots(item.schedule)
            self._slots.append(slots)
            for slot in slots:
                self._by_slot[slot].append(n)
        # (valid from, valid until, occurrence, its start) per item; see _next.
        self._cache: list[tuple[float, float, Occurrence | None, float] | None] = [None] * len(
            self._items
        )

    @staticmethod
    def _row(index: int, item: Item) -> _Row:
        audience = item.audience
        return _Row(
            index=index,
            item_id=item.id,
            languages=_mask(item.languages, _LANGUAGE_BIT),
            municipalities=frozenset(item.municipalities),
            online=item.online,
            topics=_mask(item.topics, _TOPIC_BIT),
            fields=_mask(item.fields, _FIELD_BIT),
            forms=_mask(item.forms, _FORM_BIT),
            ages=_mask(audience.age_groups, _AGE_BIT),
            situations=_mask(audience.situations, _SITUATION_BIT),
            unemployment=_mask(audience.unemployment, _UNEMPLOYMENT_BIT),
            international=audience.international_students,
            strict=audience.strict,
            everyone=audience.everyone,
            capacity=item.capacity,
        )

    @staticmethod
    def _place_key(item: Item) -> str | None:
        if item.place is None:
            return None
        where = item.place.address or item.place.name.fi
        return f"{where.casefold()}|{','.join(sorted(item.municipalities))}"

    # -- occurrences --

    def _next(self, index: int, now: datetime, now_ts: float) -> tuple[Occurrence | None, float]:
        """The item's next joinable occurrence, cached until that occurrence starts (between
        the computation and that start, the answer cannot change)."""
        cached = self._cache[index]
        if cached is not None and cached[0] <= now_ts < cached[1]:
            return cached[2], cached[3]
        occurrence = next_joinable(self._items[index], now)
        start = occurrence.start.timestamp() if occurrence else _INF
        self._cache[index] = (now_ts, start, occurrence, start)
        return occurrence, start

    # -- the person --

    @staticmethod
    def _person(profile: Profile) -> _Person:
        return _Person(
            reads=_mask(profile.reads, _LANGUAGE_BIT),
            municipality=profile.municipality,
            own_language=_LANGUAGE_BIT.get(profile.language or "", 0),
            language=profile.language,
            helps=[(h, _HELP_MASK[h]) for h in profile.help_wanted],
            interests=_mask(profile.interests, _FIELD_BIT),
            interest_order=profile.interests,
            forms=_mask(profile.preferred_form, _FORM_BIT),
            form_order=profile.preferred_form,
            prefers_online="online" in profile.preferred_form,
            age=_AGE_BIT.get(profile.age_group or "", 0),
            situation=_SITUATION_BIT.get(profile.situation or "", 0),
            unemployment=_UNEMPLOYMENT_BIT.get(profile.unemployment_duration or "", 0),
            unemployment_name=profile.unemployment_duration,
            international=profile.international_student,
            profile=profile,
        )

    # -- scoring --

    @staticmethod
    def _audience(
        row: _Row, person: _Person, reasons: list[tuple[int, Reason]] | None
    ) -> int | None:
        """Audience score, or None when a strict audience excludes the person."""
        age = _dimension(
            row.ages, person.age, W_AGE, P_AGE, row.strict, reasons,
            "age", "age_group", person.profile.age_group,
        )  # fmt: skip
        situation = _dimension(
            row.situations, person.situation, W_SITUATION, P_SITUATION, row.strict, reasons,
            "situation", "situation", person.profile.situation,
        )  # fmt: skip
        if age is None or situation is None:
            return None
        score = age + situation
        if row.unemployment:
            if person.unemployment:
                if row.unemployment & person.unemployment:
                    score += W_UNEMPLOYMENT
                    if reasons is not None and person.unemployment_name == "over_12m":
                        reasons.append((W_UNEMPLOYMENT, Reason("long_term")))
                elif row.strict:
                    return None
                else:
                    score -= P_UNEMPLOYMENT
            elif person.situation and not person.situation & _SITUATION_BIT["unemployed"]:
                if row.strict:
                    return None
                score -= P_UNEMPLOYMENT
            else:
                score -= P_UNKNOWN
        if row.international:
            if person.international is True:
                score += W_INTERNATIONAL
                if reasons is not None:
                    reasons.append((W_INTERNATIONAL, Reason("international")))
            elif person.international is False:
                if row.strict:
                    return None
                score -= P_INTERNATIONAL
            else:
                score -= P_UNKNOWN
        return score

    def _score(
        self,
        row: _Row,
        person: _Person,
        start_ts: float,
        now_ts: float,
        reasons: list[tuple[int, Reason]] | None = None,
    ) -> int | None:
        """The item's score for the person, or None if a strict audience excludes them.
        With ``reasons``, also collects (priority, reason) pairs."""
        score = self._audience(row, person, reasons)
        if score is None:
            return None
        for order, (help_, mask) in enumerate(person.helps):
            if row.topics & mask:
                score += W_HELP
                if reasons is not None:
                    reasons.append((W_HELP - order, Reason("help", {"help": help_})))
        if row.fields & person.interests:
            score += W_FIELD
            if reasons is not None:
                first = next(f for f in person.interest_order if _FIELD_BIT[f] & row.fields)
                reasons.append((W_FIELD, Reason("field", {"field": first})))
        local = person.municipality is not None and person.municipality in row.municipalities
        if local:
            score += W_LOCAL
        matched_forms = row.forms & person.forms
        if matched_forms:
            score += W_FORM * matched_forms.bit_count()
        if row.languages & person.own_language:
            score += W_LANGUAGE
        weeks = int((start_ts - now_ts) // (7 * _DAY))
        if weeks < W_SOON:
            score += W_SOON - weeks
        if reasons is not None:
            self._more_reasons(row, person, local, matched_forms, weeks, reasons)
        return score

    @staticmethod
    def _more_reasons(
        row: _Row,
        person: _Person,
        local: bool,
        matched_forms: int,
        weeks: int,
        reasons: list[tuple[int, Reason]],
    ) -> None:
        if local:
            municipality = person.municipality or ""
            reasons.append((_PRIORITY_PLACE, Reason("place", {"municipality": municipality})))
        elif row.online:
            priority = _PRIORITY_ONLINE_WANTED if person.prefers_online else _PRIORITY_ONLINE
            reasons.append((priority, Reason("online")))
        for form in person.form_order:
            if _FORM_BIT[form] & matched_forms and not (form == "online" and not local):
                reasons.append((W_FORM, Reason("form", {"form": form})))
                break
        if person.language and person.language != "fi" and row.languages & person.own_language:
            reasons.append(
                (_PRIORITY_LANGUAGE, Reason("language", {"in_language": person.language}))
            )
        if weeks < 1:
            reasons.append((_PRIORITY_SOON, Reason("soon")))
        if row.everyone and not any(p < _PRIORITY_ONLINE_WANTED for p, _ in reasons):
            reasons.append((_PRIORITY_OPEN, Reason("open_to_all")))

    # -- dismissals --

    def dismissal_penalties(
        self, dismissed: Mapping[str, str]
    ) -> tuple[frozenset[int], dict[int, int]]:
        """(items left out, penalty per item) for what the person dismissed.

        ============  ==========================================================
        reason        effect besides leaving the item out
        ============  ==========================================================
        already_done  its whole ``series`` left out; same kind with a shared topic −30
        wrong_place   items at the same place −30
        wrong_time    items meeting only at its times of week −30, some of them −10
        not_my_field  items sharing a field of work −30 (no fields: same kind and a
                      shared topic −10)
        ============  ==========================================================
        """
        excluded: set[int] = set()
        penalty: dict[int, int] = defaultdict(int)
        for item_id, why in sorted(dismissed.items()):
            index = self._index.get(item_id)
            if index is None:
                continue
            excluded.add(index)
            item, row = self._items[index], self._rows[index]
            if why == "already_done":
                if item.series:
                    excluded.update(self._by_series[item.series])
                for other in self._by_kind[item.kind]:
                    if self._rows[other].topics & row.topics:
                        penalty[other] += P_DISMISS_STRONG
            elif why == "wrong_place":
                place = self._place_key(item)
                for other in self._by_place.get(place or "", ()):
                    penalty[other] += P_DISMISS_STRONG
            elif why == "wrong_time":
                slots = self._slots[index]
                clashing = {other for slot in slots for other in self._by_slot[slot]}
                for other in clashing:
                    strong = self._slots[other] <= slots
                    penalty[other] += P_DISMISS_STRONG if strong else P_DISMISS_WEAK
            elif why == "not_my_field":
                if item.fields:
                    similar = {o for f in item.fields for o in self._by_field[f]}
                    for other in similar:
                        penalty[other] += P_DISMISS_STRONG
                else:
                    for other in self._by_kind[item.kind]:
                        if self._rows[other].topics & row.topics:
                            penalty[other] += P_DISMISS_WEAK
        return frozenset(excluded), dict(penalty)

    # -- public --

    def recommend(
        self,
        profile: Mapping[str, Any] | Profile,
        *,
        now: datetime,
        limit: int = 5,
        seats_taken: Mapping[str, int] | None = None,
        dismissed: Mapping[str, str] | None = None,
        horizon_days: int = 120,
    ) -> list[Recommendation]:
        """The best ``limit`` upcoming items for ``profile`` (answers or a :class:`Profile`).

        ``now`` must be timezone-aware. ``seats_taken`` maps item id to seats already taken
        (an item with ``capacity`` is full when they are all taken). ``dismissed`` maps item
        id to why the person dismissed it (``wrong_place``, ``wrong_time``, ``not_my_field``,
        ``already_done``); see :meth:`dismissal_penalties`. Items further away than
        ``horizon_days`` are not suggested.
        """
        if now.tzinfo is None:
            raise ValueError("'now' must be timezone-aware")
        person = self._person(
            profile if isinstance(profile, Profile) else Profile.from_answers(profile)
        )
        now_ts = now.timestamp()
        until_ts = now_ts + horizon_days * _DAY
        seats = seats_taken or {}
        excluded, penalty = self.dismissal_penalties(dismissed or {})
        candidates = (
            self._by_municipality[person.municipality]
            if person.municipality is not None
            else self._online
        )
        reads = person.reads
        rows = self._rows
        ranked: list[tuple[int, float, int]] = []
        for index in candidates:
            row = rows[index]
            if reads and not row.languages & reads:
                continue
            if row.capacity is not None and seats.get(row.item_id, 0) >= row.capacity:
                continue
            if index in excluded:
                continue
            occurrence, start_ts = self._next(index, now, now_ts)
            if occurrence is None or start_ts > until_ts:
                continue
            score = self._score(row, person, start_ts, now_ts)
            if score is None:
                continue
            ranked.append((-(score - penalty.get(index, 0)), start_ts, index))
        best = heapq.nsmallest(max(limit, 0), ranked)
        return [self._recommendation(entry, person, now, now_ts, seats) for entry in best]

    def _recommendation(
        self,
        entry: tuple[int, float, int],
        person: _Person,
        now: datetime,
        now_ts: float,
        seats: Mapping[str, int],
    ) -> Recommendation:
        negative_score, start_ts, index = entry
        occurrence, _ = self._next(index, now, now_ts)
        assert occurrence is not None  # only items with an occurrence are ranked
        row = self._rows[index]
        collected: list[tuple[int, Reason]] = []
        self._score(row, person, start_ts, now_ts, collected)
        # Stable sort: equal priorities keep the order they were found in.
        collected.sort(key=lambda pair: -pair[0])
        left = None if row.capacity is None else row.capacity - seats.get(row.item_id, 0)
        return Recommendation(
            item=self._items[index],
            score=-negative_score,
            occurrence=occurrence,
            reasons=tuple(reason for _, reason in collected),
            seats_left=left,
        )

    def browse(
        self,
        *,
        now: datetime,
        kind: str | None = None,
        municipality: str | None = None,
        include_online: bool = True,
        languages: Iterable[str] | None = None,
        horizon_days: int = 120,
        seats_taken: Mapping[str, int] | None = None,
        include_full: bool = True,
    ) -> list[tuple[Item, Occurrence]]:
        """Upcoming items with their next joinable occurrence, soonest first, for a browse
        view with filters (no scoring). ``municipality=None`` means every municipality."""
        if now.tzinfo is None:
            raise ValueError("'now' must be timezone-aware")
        now_ts = now.timestamp()
        until_ts = now_ts + horizon_days * _DAY
        reads = _mask(languages or (), _LANGUAGE_BIT)
        seats = seats_taken or {}
        found: list[tuple[float, int, Occurrence]] = []
        for row in self._rows:
            item = self._items[row.index]
            if kind is not None and item.kind != kind:
                continue
            if municipality is not None and not (
                municipality in row.municipalities or (include_online and row.online)
            ):
                continue
            if municipality is None and not include_online and not row.municipalities:
                continue
            if reads and not row.languages & reads:
                continue
            full = row.capacity is not None and seats.get(row.item_id, 0) >= row.capacity
            if full and not include_full:
                continue
            occurrence, start_ts = self._next(row.index, now, now_ts)
            if occurrence is None or start_ts > until_ts:
                continue
            found.append((start_ts, row.index, occurrence))
        found.sort(key=lambda entry: (entry[0], entry[1]))
        return [(self._items[index], occurrence) for _, index, occurrence in found]


def _dimension(
    wanted: int,
    have: int,
    weight: int,
    penalty: int,
    strict: bool,
    reasons: list[tuple[int, Reason]] | None,
    code: str,
    param: str,
    value: str | None,
) -> int | None:
    """The score of one audience dimension (age group, situation): a match adds ``weight``
    (and a reason), a mismatch costs ``penalty`` or excludes when ``strict``, unknown costs
    ``P_UNKNOWN``; an item open to everyone on it scores 0."""
    if not wanted:
        return 0
    if not have:
        return -P_UNKNOWN
    if wanted & have:
        if reasons is not None:
            reasons.append((weight, Reason(code, {param: value or ""})))
        return weight
    return None if strict else -penalty


_RECOMMENDERS: weakref.WeakKeyDictionary[Catalogue, Recommender] = weakref.WeakKeyDictionary()


def recommender_for(catalogue: Catalogue) -> Recommender:
    """The recommender of ``catalogue``, built on first use and kept as long as it lives."""
    recommender = _RECOMMENDERS.get(catalogue)
    if recommender is None:
        recommender = Recommender(catalogue)
        _RECOMMENDERS[catalogue] = recommender
    return recommender


def recommend(
    catalogue: Catalogue,
    profile: Mapping[str, Any] | Profile,
    *,
    now: datetime,
    limit: int = 5,
    seats_taken: Mapping[str, int] | None = None,
    dismissed: Mapping[str, str] | None = None,
    horizon_days: int = 120,
) -> list[Recommendation]:
    """Ranked upcoming items for a person's answers; see the module documentation."""
    return recommender_for(catalogue).recommend(
        profile,
        now=now,
        limit=limit,
        seats_taken=seats_taken,
        dismissed=dismissed,
        horizon_days=horizon_days,
    )
