"""The recommender: from a :class:`~.profile.Profile` to ranked upcoming items, with reasons.

Pure and deterministic: the same catalogue, answers, ``now``, seats and dismissals always give
the same list. Nothing here talks to Telegram or a database; the caller passes the seats
already taken and what the person dismissed.

How an item is chosen
---------------------

*Rules* — an item is never suggested when

* it has no joinable occurrence between ``now`` and ``now + horizon_days`` (past, or a course
  run that has already begun);
* it is full (``seats_taken[id] >= capacity``);
* it is given in no language the person reads (their UI ``language`` plus ``languages_read``;
  no language known = no filter);
* it is neither in the person's municipality nor online (municipality unknown or ``other``:
  online items only);
* its audience names a group the person has not said they belong to (an age group, a
  situation, how long out of work, international students; :func:`~.profile.audience_gaps`):
  the audience is a rule, not a weight, and an unanswered question does not count as a yes;
* it is about fields of work (``fields:``) none of which the person is interested in, while
  they named fields and not "other" (a safety card course for someone into care work);
* it is for one particular need (its first topic is one of
  :data:`~bot.catalogue.tags.NEED_TOPICS`: a business coaching, a card course) and the person
  said what help they want or which fields interest them, none of which it answers (a
  business coaching for someone who never mentioned a business);
* the person dismissed it (and, for ``already_done``, every item of the same ``series``).

*Scores* — integers, so ties are exact; see the ``W_*`` constants. Interests and wanted help
drive the ranking:

* wanted help ↔ topics (:data:`~bot.catalogue.tags.HELP_TOPICS`), for each help that matches;
* interests ↔ topics, by the editors' field → topic map (``content/field_topics.yaml``:
  restaurants → hygiene passport), and ↔ the item's own fields of work;
* smaller: an audience aimed at the person's group; held in the person's own municipality;
  preferred forms (in person, online, group, one-to-one); given in the person's own
  language; starts soon;
* lowered when it resembles a dismissed item (:func:`dismissal_penalties`).

Ties are broken by the next date, then by id.

Reasons are codes with parameters (:class:`Reason`), never text, and each is true: built
from an answer the person gave that the item matches ("you are looking for a job"), followed
by the fact of the item that answers it ("you meet employers there"), or a plain fact
("it starts soon"). A list never shows the same two reasons on two different items when
something else true tells them apart (:meth:`Recommender.recommend` picks the second reason
per list). :func:`render_reasons` turns the first two into a sentence with the
``catalogue.reason.*`` texts; an item with nothing true to say gets no reason.

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
    NEED_TOPICS,
    SITUATIONS,
    TOPICS,
    UNEMPLOYMENT_DURATIONS,
)
from .profile import Profile, Reason, Recommendation

# Score weights: whole numbers, so that ties are exact. Interests and wanted help drive the
# ranking; the rest only orders items that answer them equally well.
W_HELP: Final = 40  # per wanted help the item's topics answer
W_INTEREST: Final = 40  # per interest whose topics (field → topic map) the item has
W_FIELD: Final = 10  # per interest the item lists in its own fields of work
W_AGE: Final = 12  # meant for the person's age group (others never see it suggested)
W_SITUATION: Final = 10  # meant for people in the person's situation
W_UNEMPLOYMENT: Final = 10  # meant for the person's unemployment duration (long-term, …)
W_INTERNATIONAL: Final = 40  # meant for international students, and the person is one
W_LOCAL: Final = 10  # held in the person's own municipality
W_FORM: Final = 8  # per preferred form the item is given in
W_LANGUAGE: Final = 5  # given in the person's own (UI) language
W_SOON: Final = 4  # minus one per full week until it starts
# Dismissals: how much similar items are lowered.
P_DISMISS_STRONG: Final = 30
P_DISMISS_WEAK: Final = 10

#: Reason order (higher first). An interest or wanted help comes first, with the fact of the
#: item that answers it; then who the item is meant for; then the smaller matches.
_PRIORITY_INTERNATIONAL: Final = 400
_PRIORITY_INTEREST: Final = 320
_PRIORITY_HELP: Final = 300
_PRIORITY_FIELD: Final = 280
_PRIORITY_AGE: Final = 200
_PRIORITY_LONG_TERM: Final = 195
_PRIORITY_SITUATION: Final = 190
_PRIORITY_LANGUAGE: Final = 90
_PRIORITY_FORM: Final = 80
_PRIORITY_PLACE: Final = 50
_PRIORITY_SOON: Final = 30

#: Topics that only repeat the help they answer ("you are looking for a job and it helps you
#: look for work"): never given as the fact behind that help.
_SAME_AS_HELP: Final[Mapping[str, frozenset[str]]] = {
    "job": frozenset({"job_search"}),
    "job_search_skills": frozenset({"job_search"}),
    "new_field": frozenset({"new_field"}),
    "own_business": frozenset({"entrepreneurship"}),
    "studies": frozenset({"studies"}),
    "digital_skills": frozenset({"digital_skills"}),
}

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

#: (priority, the person's answer the item matches, the facts of the item that answer it)
_Claim = tuple[int, Reason, tuple[Reason, ...]]


# --- the recommender --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Row:
    """What the scorer needs of one item, precomputed."""

    index: int
    item_id: str
    series: str | None
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
    #: its first topic is a particular need (:data:`~bot.catalogue.tags.NEED_TOPICS`)
    need: bool
    capacity: int | None


@dataclass(slots=True)
class _Person:
    """A profile turned into masks, once per call."""

    reads: int
    municipality: str | None
    own_language: int
    language: str | None
    helps: list[tuple[str, int]]
    help_any: int
    #: (field, its bit, the mask of its topics in the field → topic map)
    interests: list[tuple[str, int, int]]
    interest_fields: int
    interest_topics: int
    #: items about other fields of work are left out (the person named fields, not "other")
    field_rule: bool
    #: items for a particular need must answer a wanted help or an interest (the person
    #: named some)
    relevance_rule: bool
    forms: int
    form_order: tuple[str, ...]
    age: int
    situation: int
    unemployment: int
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
        #: field → (its topics in map order, their mask)
        self._field_topics: dict[str, tuple[tuple[str, ...], int]] = {
            field: (tuple(topics), _mask(topics, _TOPIC_BIT))
            for field, topics in catalogue.field_topics.items()
        }
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
            series=item.series,
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
            need=item.topics[0] in NEED_TOPICS,
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

    def _person(self, profile: Profile) -> _Person:
        helps = [(h, _HELP_MASK[h]) for h in profile.help_wanted]
        interests = [
            (f, _FIELD_BIT[f], self._field_topics.get(f, ((), 0))[1]) for f in profile.interests
        ]
        help_any = interest_topics = 0
        for _, mask in helps:
            help_any |= mask
        if profile.international_student is True:
            # an international student needs to know Finnish working life, asked or not
            help_any |= _TOPIC_BIT["working_in_finland"]
        for _, _, mask in interests:
            interest_topics |= mask
        return _Person(
            reads=_mask(profile.reads, _LANGUAGE_BIT),
            municipality=profile.municipality,
            own_language=_LANGUAGE_BIT.get(profile.language or "", 0),
            language=profile.language,
            helps=helps,
            help_any=help_any,
            interests=interests,
            interest_fields=_mask(profile.interests, _FIELD_BIT),
            interest_topics=interest_topics,
            field_rule=bool(profile.interests) and not profile.interests_open,
            relevance_rule=bool(helps or interests),
            forms=_mask(profile.preferred_form, _FORM_BIT),
            form_order=profile.preferred_form,
            age=_AGE_BIT.get(profile.age_group or "", 0),
            situation=_SITUATION_BIT.get(profile.situation or "", 0),
            unemployment=_UNEMPLOYMENT_BIT.get(profile.unemployment_duration or "", 0),
            international=profile.international_student,
            profile=profile,
        )

    # -- rules and scores --

    @staticmethod
    def _allowed(row: _Row, person: _Person) -> bool:
        """The rules that depend on the person: audience, fields of work, relevance."""
        if row.ages and not row.ages & person.age:
            return False
        if row.situations and not row.situations & person.situation:
            return False
        if row.unemployment and not row.unemployment & person.unemployment:
            return False
        if row.international and person.international is not True:
            return False
        interest = row.fields & person.interest_fields or row.topics & person.interest_topics
        if person.field_rule and row.fields and not interest:
            return False
        if person.relevance_rule and row.need:
            return bool(interest or row.topics & person.help_any)
        return True

    @staticmethod
    def _score(row: _Row, person: _Person, start_ts: float, now_ts: float) -> int:
        """The item's score for a person it is :meth:`_allowed` for."""
        score = 0
        for _, mask in person.helps:
            if row.topics & mask:
                score += W_HELP
        for _, bit, mask in person.interests:
            if row.topics & mask:
                score += W_INTEREST
            if row.fields & bit:
                score += W_FIELD
        if row.ages:
            score += W_AGE
        if row.situations:
            score += W_SITUATION
        if row.unemployment:
            score += W_UNEMPLOYMENT
        if row.international:
            score += W_INTERNATIONAL
        if person.municipality is not None and person.municipality in row.municipalities:
            score += W_LOCAL
        matched_forms = row.forms & person.forms
        if matched_forms:
            score += W_FORM * matched_forms.bit_count()
        if row.languages & person.own_language:
            score += W_LANGUAGE
        weeks = int((start_ts - now_ts) // (7 * _DAY))
        if weeks < W_SOON:
            score += W_SOON - weeks
        return score

    def _claims(self, row: _Row, person: _Person, start_ts: float, now_ts: float) -> list[_Claim]:
        """Everything true to say about why the item suits the person, most telling first."""
        item = self._items[row.index]
        profile = person.profile
        claims: list[_Claim] = []
        for order, (field, bit, mask) in enumerate(person.interests):
            if row.topics & mask:
                topics = self._field_topics[field][0]
                facts = tuple(
                    Reason("topic", {"topic": t}) for t in topics if _TOPIC_BIT[t] & row.topics
                )
                claims.append(
                    (_PRIORITY_INTEREST - order, Reason("field", {"field": field}), facts)
                )
            elif row.fields & bit:
                claims.append((_PRIORITY_FIELD - order, Reason("field", {"field": field}), ()))
        for order, (help_, mask) in enumerate(person.helps):
            if row.topics & mask:
                same = _SAME_AS_HELP.get(help_, frozenset())
                facts = tuple(
                    Reason("topic", {"topic": t})
                    for t in item.topics
                    if _TOPIC_BIT[t] & mask and t not in same
                )
                claims.append((_PRIORITY_HELP - order, Reason("help", {"help": help_}), facts))
        if row.international:
            claims.append((_PRIORITY_INTERNATIONAL, Reason("international"), ()))
        if row.ages:
            age = Reason("age", {"age_group": profile.age_group or ""})
            claims.append((_PRIORITY_AGE, age, ()))
        if row.unemployment and profile.unemployment_duration == "over_12m":
            claims.append((_PRIORITY_LONG_TERM, Reason("long_term"), ()))
        if row.situations:
            situation = Reason("situation", {"situation": profile.situation or ""})
            claims.append((_PRIORITY_SITUATION, situation, ()))
        if person.language and person.language != "fi" and row.languages & person.own_language:
            language = Reason("language", {"in_language": person.language})
            claims.append((_PRIORITY_LANGUAGE, language, ()))
        matched_forms = row.forms & person.forms
        for form in person.form_order:
            if _FORM_BIT[form] & matched_forms:
                claims.append((_PRIORITY_FORM, Reason("form", {"form": form}), ()))
                break
        if person.municipality is not None and person.municipality in row.municipalities:
            place = Reason("place", {"municipality": person.municipality})
            claims.append((_PRIORITY_PLACE, place, ()))
        if start_ts - now_ts < 7 * _DAY:
            claims.append((_PRIORITY_SOON, Reason("soon"), ()))
        # Stable sort: equal priorities keep the order they were found in.
        claims.sort(key=lambda claim: -claim[0])
        return claims

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
        allowed = self._allowed
        ranked: list[tuple[int, float, int]] = []
        for index in candidates:
            row = rows[index]
            if reads and not row.languages & reads:
                continue
            if row.capacity is not None and seats.get(row.item_id, 0) >= row.capacity:
                continue
            if index in excluded or not allowed(row, person):
                continue
            occurrence, start_ts = self._next(index, now, now_ts)
            if occurrence is None or start_ts > until_ts:
                continue
            score = self._score(row, person, start_ts, now_ts)
            ranked.append((-(score - penalty.get(index, 0)), start_ts, index))
        best = heapq.nsmallest(max(limit, 0), ranked)
        said: dict[tuple[Any, ...], str | None] = {}
        return [self._recommendation(entry, person, now, now_ts, seats, said) for entry in best]

    def _recommendation(
        self,
        entry: tuple[int, float, int],
        person: _Person,
        now: datetime,
        now_ts: float,
        seats: Mapping[str, int],
        said: dict[tuple[Any, ...], str | None],
    ) -> Recommendation:
        """One line of the list; ``said`` holds the reason pairs of the lines above (and
        their items' series), so that this one says something else when it can."""
        negative_score, start_ts, index = entry
        occurrence, _ = self._next(index, now, now_ts)
        assert occurrence is not None  # only items with an occurrence are ranked
        row = self._rows[index]
        reasons = _pick_reasons(self._claims(row, person, start_ts, now_ts), row.series, said)
        left = None if row.capacity is None else row.capacity - seats.get(row.item_id, 0)
        return Recommendation(
            item=self._items[index],
            score=-negative_score,
            occurrence=occurrence,
            reasons=reasons,
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


def _key(reason: Reason | None) -> tuple[Any, ...] | None:
    return None if reason is None else (reason.code, tuple(sorted(reason.params.items())))


def _pick_reasons(
    claims: list[_Claim], series: str | None, said: dict[tuple[Any, ...], str | None]
) -> tuple[Reason, ...]:
    """The reasons of one line, most telling first. The first two are what the line shows:
    the person's strongest match and the fact behind it, or their next match. When an item
    of another series above already showed that pair, the second is another fact or match
    (if one is left), so that different items do not read the same."""
    if not claims:
        return ()
    first, facts = claims[0][1], claims[0][2]
    options = [*facts, *(claim[1] for claim in claims[1:])]
    chosen: Reason | None = options[0] if options else None
    for option in [chosen, *options[1:]]:
        pair = (_key(first), _key(option))
        if pair not in said or (series is not None and said[pair] == series):
            chosen = option
            break
    said.setdefault((_key(first), _key(chosen)), series)
    ordered = [first]
    if chosen is not None:
        ordered.append(chosen)
    for claim in claims:
        for reason in (claim[1], *claim[2]):
            if reason is not first and reason is not chosen:
                ordered.append(reason)
    return tuple(ordered)


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
