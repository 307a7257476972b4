"""The fixed vocabularies of the events catalogue, and the text keys that name them.

Everything an editor may write in ``kind:``, ``topics:``, ``fields:``, ``municipalities:``,
``languages:``, ``audience:`` or a weekday is listed here, and so is every answer value of the
career-plan dialog the recommender understands. Adding a value is a code change on purpose:
the recommender and the texts must know it. Each value has a person-visible name in
``content/texts/catalogue.{fi,sv,en}.yaml`` under the key :func:`text_key` returns, e.g.
``catalogue.kind.card_training``; :func:`required_text_keys` lists them all so ``urapolku
check`` and the tests can prove that every language has every text.

``docs/CATALOGUE.md`` documents the same lists for content editors; keep the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Final, Literal, get_args

# the languages an item is held in and those a person reads are the bot's own languages
from bot.content.languages import LANGUAGES as LANGUAGES
from bot.content.languages import Language as Language

#: Prefix of every text key this package uses.
TEXT_PREFIX: Final = "catalogue"

Kind = Literal[
    "guidance_point",  # drop-in career guidance point (DuuniExpo, Ohjaamo)
    "individual_coaching",  # one-to-one coaching sessions with a coach
    "group_coaching",  # a coaching group that meets for weeks (DuuniKaverit)
    "entrepreneurship_coaching",  # a group for starting a business (YrittäjäKaverit)
    "online_course",  # a course done from home on the internet (VerkkoAgentti)
    "job_search_day",  # a weekly day of supported job searching (workshop)
    "recruitment_event",  # employers come to meet job seekers (Duunitreffit, speed dating)
    "company_visit",  # a visit to a workplace (Työpaikat tutuiksi)
    "card_training",  # a work card: hygiene passport, safety card, first aid, hot work
    "peer_group",  # people in the same situation meet (peer café)
    "info_session",  # a short talk or seminar
]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)

Topic = Literal[
    "career_planning",
    "job_search",
    "cv_and_applications",
    "job_interviews",
    "hidden_jobs",  # jobs that are never advertised, gig work
    "meet_employers",
    "new_field",
    "entrepreneurship",
    "studies",
    "digital_skills",
    "work_cards",  # any work card (the four below, and others)
    "hygiene_passport",  # hygieniapassi: work with food
    "safety_card",  # työturvallisuuskortti: building sites, industry
    "hot_work",  # tulityökortti: welding, cutting, open flame
    "first_aid",  # EA1 and similar
    "peer_support",
    "wellbeing",  # coping, work ability, money worries
    "working_in_finland",  # Finnish working life for people from abroad
    "networking",
]
TOPICS: Final[tuple[Topic, ...]] = get_args(Topic)

#: Fields of work; the same values as the dialog's ``interests`` answer (without ``other``).
WorkField = Literal[
    "social_health",
    "hospitality_tourism",
    "construction",
    "industry",
    "logistics",
    "retail_service",
    "office_it",
    "cleaning_property",
    "education_culture",
    "nature_agriculture",
]
FIELDS: Final[tuple[WorkField, ...]] = get_args(WorkField)

Municipality = Literal["lohja", "vihti", "raasepori", "hanko", "karkkila", "rovaniemi"]
MUNICIPALITIES: Final[tuple[Municipality, ...]] = get_args(Municipality)


AgeGroup = Literal["under_30", "30_49", "50_plus"]
AGE_GROUPS: Final[tuple[AgeGroup, ...]] = get_args(AgeGroup)

Situation = Literal[
    "unemployed", "soon_unemployed", "studying", "recent_graduate", "employed_looking", "other"
]
SITUATIONS: Final[tuple[Situation, ...]] = get_args(Situation)

UnemploymentDuration = Literal["under_3m", "3_12m", "over_12m"]
UNEMPLOYMENT_DURATIONS: Final[tuple[UnemploymentDuration, ...]] = get_args(UnemploymentDuration)

Form = Literal["in_person", "online", "group", "one_to_one"]
FORMS: Final[tuple[Form, ...]] = get_args(Form)

HelpWanted = Literal[
    "job", "new_field", "own_business", "studies", "digital_skills", "job_search_skills"
]
HELP_WANTED: Final[tuple[HelpWanted, ...]] = get_args(HelpWanted)

#: The age groups an item may be meant for, as one phrase: a single group, or two next to
#: each other ("under 50", "30 or older"); :func:`age_span` names them.
AGE_GROUP_SPANS: Final[tuple[str, ...]] = (*AGE_GROUPS, "under_50", "30_plus")


def age_span(groups: Sequence[str]) -> tuple[str, ...]:
    """The :data:`AGE_GROUP_SPANS` that say ``groups``: ``("30_49", "50_plus")`` is
    ``("30_plus",)``; groups that do not join up are named one by one."""
    wanted = set(groups)
    if wanted == {"under_30", "30_49"}:
        return ("under_50",)
    if wanted == {"30_49", "50_plus"}:
        return ("30_plus",)
    return tuple(g for g in AGE_GROUPS if g in wanted)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
#: In ``date.weekday()`` order: ``WEEKDAYS[d.weekday()]`` is the name of ``d``'s weekday.
WEEKDAYS: Final[tuple[Weekday, ...]] = get_args(Weekday)

SignupMode = Literal["bot", "link", "none"]
SIGNUP_MODES: Final[tuple[SignupMode, ...]] = get_args(SignupMode)

#: Why someone dismissed a recommendation (the ``dismissed`` argument of ``recommend``).
DismissReason = Literal["wrong_place", "wrong_time", "not_my_field", "already_done"]
DISMISS_REASONS: Final[tuple[DismissReason, ...]] = get_args(DismissReason)

#: Which topics answer which wanted help. The recommender scores an item for each wanted
#: help that shares a topic with it, and says so in its reasons.
HELP_TOPICS: Final[Mapping[HelpWanted, frozenset[Topic]]] = MappingProxyType(
    {
        "job": frozenset({"job_search", "hidden_jobs", "meet_employers"}),
        "new_field": frozenset(
            {
                "new_field",
                "career_planning",
                "work_cards",
                "hygiene_passport",
                "safety_card",
                "hot_work",
                "first_aid",
            }
        ),
        "own_business": frozenset({"entrepreneurship"}),
        "studies": frozenset({"studies"}),
        "digital_skills": frozenset({"digital_skills"}),
        "job_search_skills": frozenset({"cv_and_applications", "job_interviews", "job_search"}),
    }
)

#: Topics that answer one particular need. An item whose *first* topic is one of these (a
#: business coaching, a card course) is suggested to someone who said what help they want or
#: which fields interest them only when its topics answer some of it; items about looking for
#: work in general are suggested without that.
NEED_TOPICS: Final[frozenset[Topic]] = frozenset(
    {
        "entrepreneurship",
        "studies",
        "digital_skills",
        "work_cards",
        "hygiene_passport",
        "safety_card",
        "hot_work",
        "first_aid",
        "working_in_finland",
    }
)

#: The form (group / one-to-one) each kind is given in; in person / online come from the item.
KIND_FORMS: Final[Mapping[Kind, frozenset[Form]]] = MappingProxyType(
    {
        "guidance_point": frozenset({"one_to_one"}),
        "individual_coaching": frozenset({"one_to_one"}),
        "group_coaching": frozenset({"group"}),
        "entrepreneurship_coaching": frozenset({"group"}),
        "online_course": frozenset(),
        "job_search_day": frozenset({"group"}),
        "recruitment_event": frozenset({"one_to_one"}),
        "company_visit": frozenset({"group"}),
        "card_training": frozenset({"group"}),
        "peer_group": frozenset({"group"}),
        "info_session": frozenset({"group"}),
    }
)

#: Kinds whose meetings are one-to-one slots: signed up in the bot, each occurrence holds one
#: person (``capacity`` is 1 unless given, and may not be more).
SLOT_KINDS: Final[frozenset[Kind]] = frozenset({"individual_coaching"})

#: Codes of :class:`bot.catalogue.recommend.Reason`; each is a text under ``catalogue.reason``.
#: Codes in :data:`REASON_VALUE_PARAM` take the text of one value: ``help`` with
#: ``{"help": "own_business"}`` is ``catalogue.reason.help.own_business``. Parameter names
#: never clash with the ``key`` and ``language`` arguments of the texts' ``get``.
#:
#: Every reason is true of this person and this item: the person-side codes (``place``,
#: ``help``, ``field``, ``age``, ``situation``, ``long_term``, ``international``, ``form``,
#: ``language``) are given only when the person said so *and* the item matches it; ``topic``
#: says what in the item answers a wanted help or an interest; ``soon`` is a fact of the date.
ReasonCode = Literal[
    "place",  # params: municipality (the person's, which the item is held in)
    "help",  # params: help (a HelpWanted the item's topics answer)
    "field",  # params: field (an interest the item is about, or whose topics it teaches)
    "topic",  # params: topic (what in the item answers the help or interest before it)
    "age",  # params: age_group (the item is meant for the person's age group)
    "situation",  # params: situation (the item is meant for people in it)
    "long_term",  # long-term unemployed (over 12 months), and the item is meant for them
    "international",  # international student, and the item is meant for them
    "form",  # params: form (a preferred form the item is given in)
    "language",  # params: in_language (given in the person's own language, not Finnish)
    "soon",  # starts within a week
]
REASON_CODES: Final[tuple[ReasonCode, ...]] = get_args(ReasonCode)
REASON_VALUE_PARAM: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = MappingProxyType(
    {
        "help": ("help", HELP_WANTED),
        "field": ("field", FIELDS),
        "topic": ("topic", TOPICS),
        "age": ("age_group", AGE_GROUPS),
        "situation": ("situation", SITUATIONS),
        "form": ("form", FORMS),
        "language": ("in_language", LANGUAGES),
    }
)

#: Name groups: ``catalogue.<group>.<value>`` is the person-visible name of each value.
NAME_GROUPS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "kind": KINDS,
        "topic": TOPICS,
        "field": FIELDS,
        "municipality": MUNICIPALITIES,
        # "in Karkkila": Finnish needs the locative case (Karkkilassa, Lohjalla)
        "municipality_in": MUNICIPALITIES,
        "language": LANGUAGES,
        "form": FORMS,
        "weekday": WEEKDAYS,
        "month": tuple(str(m) for m in range(1, 13)),
        "audience.age_group": AGE_GROUPS,
        "audience.situation": SITUATIONS,
        # "for people over 50": a browse line or card of an item meant for others
        "audience.only_age": AGE_GROUP_SPANS,
        "audience.only_situation": SITUATIONS,
        "audience.only_unemployment": UNEMPLOYMENT_DURATIONS,
        "signup": SIGNUP_MODES,
        "dismiss": DISMISS_REASONS,
    }
)

#: Single texts that are not names of a vocabulary value.
OTHER_TEXT_KEYS: Final[tuple[str, ...]] = (
    "catalogue.online",  # "Online" as a place
    "catalogue.unconfirmed",  # "To be confirmed – ask a coach": an item without 'confirmed'
    "catalogue.address_unconfirmed",  # in place of a street address nobody has given yet
    "catalogue.confirmed",  # "Checked with the organiser on {date}": on the card
    "catalogue.audience.everyone",
    "catalogue.audience.and",  # " and ", between the last two groups on a card
    "catalogue.audience.international_students",
    "catalogue.audience.long_term_unemployed",
    "catalogue.audience.only",  # "For {whom}": an item meant for others than the person
    "catalogue.audience.only_international",  # whom: "international students"
    "catalogue.audience.only_or",  # " or ", between the groups of one marking
    "catalogue.held_in",  # "In {languages}": a line for an item not in the person's language
    "catalogue.capacity.free",  # "{free} places left"
    "catalogue.capacity.full",
    "catalogue.reason.one",  # "Because {first}."
    "catalogue.reason.two",  # "Because {first} and {second}."
    "catalogue.when.time",  # "{hour}.{minute}"
    "catalogue.when.date",  # "{weekday} {day}.{month}.{year}"
    "catalogue.when.short_date",  # "{day}.{month}.{year}"
    "catalogue.when.same_day",  # "{date} at {start}–{end}"
    "catalogue.when.at",  # "{date} at {time}": a start alone
    "catalogue.when.days",  # "{start_date} – {end_date}", for events over several days
    "catalogue.when.weekly",  # "every {weekdays} at {time}"
    "catalogue.when.range",  # "{start} – {end}"
    "catalogue.when.list_and",  # " and "
    "catalogue.when.session",  # "meeting {session} of {sessions}"
)


#: The ``{placeholders}`` each text may use; texts not listed take none.
_TEXT_PARAMS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "catalogue.capacity.free": frozenset({"free"}),
        "catalogue.confirmed": frozenset({"date"}),
        "catalogue.held_in": frozenset({"languages"}),
        "catalogue.audience.only": frozenset({"whom"}),
        "catalogue.reason.one": frozenset({"first"}),
        "catalogue.reason.two": frozenset({"first", "second"}),
        "catalogue.reason.place": frozenset({"municipality", "municipality_in"}),
        "catalogue.when.time": frozenset({"hour", "minute"}),
        "catalogue.when.date": frozenset({"weekday", "day", "month", "month_name", "year"}),
        "catalogue.when.short_date": frozenset({"weekday", "day", "month", "month_name", "year"}),
        "catalogue.when.same_day": frozenset({"date", "start", "end"}),
        "catalogue.when.at": frozenset({"date", "time"}),
        "catalogue.when.days": frozenset({"start_date", "start", "end_date", "end"}),
        "catalogue.when.weekly": frozenset({"weekdays", "time"}),
        "catalogue.when.range": frozenset({"start", "end", "weekdays", "time"}),
        "catalogue.when.session": frozenset({"session", "sessions"}),
    }
)


def text_params(key: str) -> frozenset[str]:
    """The placeholders the text ``key`` may use (the parameters the code passes to it)."""
    params = _TEXT_PARAMS.get(key)
    if params is not None:
        return params
    parts = key.split(".")
    if len(parts) == 4 and parts[1] == "reason" and parts[2] in REASON_VALUE_PARAM:
        return frozenset({REASON_VALUE_PARAM[parts[2]][0]})
    return frozenset()


def text_key(group: str, value: str) -> str:
    """The key of the person-visible name of ``value``: ``text_key("kind", "card_training")``."""
    return f"{TEXT_PREFIX}.{group}.{value}"


def reason_key(code: str, params: Mapping[str, str]) -> str:
    """The text key of one reason: ``catalogue.reason.help.own_business``, ``…reason.place``."""
    spec = REASON_VALUE_PARAM.get(code)
    if spec is not None:
        return f"{TEXT_PREFIX}.reason.{code}.{params.get(spec[0], '')}"
    return f"{TEXT_PREFIX}.reason.{code}"


def required_text_keys() -> frozenset[str]:
    """Every text key the catalogue code can ask for; each must exist in fi, sv and en."""
    keys = {text_key(group, value) for group, values in NAME_GROUPS.items() for value in values}
    keys.update(OTHER_TEXT_KEYS)
    for code in REASON_CODES:
        spec = REASON_VALUE_PARAM.get(code)
        if spec is None:
            keys.add(reason_key(code, {}))
        else:
            keys.update(reason_key(code, {spec[0]: value}) for value in spec[1])
    return frozenset(keys)


def from_yaml_number(value: object, vocabulary: Sequence[str]) -> object:
    """The vocabulary value YAML turned into a number, else ``value`` unchanged.

    YAML 1.1 reads an unquoted ``30_49`` as the integer 3049 (underscores separate digits), so
    ``age_groups: [30_49]`` arrives as ``[3049]``; this gives back ``"30_49"``.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        digits = str(value)
        for entry in vocabulary:
            if entry.replace("_", "") == digits:
                return entry
    return value
