"""Recommendations: the profiles from the issue, hard filters, dismissals, determinism, reasons."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.catalogue import (
    HELSINKI,
    Catalogue,
    Item,
    Profile,
    Reason,
    Recommender,
    load_catalogue,
    recommend,
    render_reasons,
    required_text_keys,
)
from bot.catalogue.tags import DISMISS_REASONS, FIELDS, FORMS, HELP_WANTED, MUNICIPALITIES
from bot.engine.texts import TextCatalogue, load_texts_collecting

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=HELSINKI)


@pytest.fixture(scope="module")
def bundled() -> Catalogue:
    return load_catalogue(ROOT / "content" / "catalogue")


@pytest.fixture(scope="module")
def texts() -> TextCatalogue:
    loaded, _ = load_texts_collecting(ROOT / "content" / "texts", "fi")
    return loaded


def t_for(texts: TextCatalogue, lang: str) -> Any:
    return lambda key, params: texts.get(key, lang, **params)


def ids(recommendations: list[Any]) -> list[str]:
    return [r.item.id for r in recommendations]


# --- the profiles of the issue ----------------------------------------------------------------


def test_over_50_in_karkkila_wanting_a_business_gets_entrepreneurship_coaching_first(
    bundled: Catalogue, texts: TextCatalogue
) -> None:
    answers = {
        "language": "fi",
        "situation": "unemployed",
        "unemployment_duration": "over_12m",
        "age_group": "50_plus",
        "municipality": "karkkila",
        "help_wanted": ["own_business"],
    }
    recs = recommend(bundled, answers, now=NOW)
    assert recs[0].item.kind == "entrepreneurship_coaching"
    assert "karkkila" in recs[0].item.municipalities
    # what they asked for first, then who it is meant for (both true of this person)
    assert recs[0].reasons[:2] == (
        Reason("help", {"help": "own_business"}),
        Reason("age", {"age_group": "50_plus"}),
    )
    assert render_reasons(recs[0].reasons, t_for(texts, "en")) == (
        "Because you want to start a business and you are over 50."
    )
    assert render_reasons(recs[0].reasons, t_for(texts, "fi")) == (
        "Koska haluat perustaa yrityksen ja olet yli 50-vuotias."
    )
    assert render_reasons(recs[0].reasons, t_for(texts, "sv")).startswith(
        "Eftersom du vill starta ett företag och "
    )
    # only Karkkila and online items
    assert all(r.item.online or "karkkila" in r.item.municipalities for r in recs)


def test_under_30_in_rovaniemi_gets_ohjaamo(bundled: Catalogue) -> None:
    for extra in ({}, {"situation": "unemployed", "help_wanted": ["job"]}):
        answers = {"language": "fi", "age_group": "under_30", "municipality": "rovaniemi", **extra}
        recs = recommend(bundled, answers, now=NOW)
        assert recs[0].item.id == "ohjaamo-rovaniemi", extra
        assert Reason("age", {"age_group": "under_30"}) in recs[0].reasons


def test_ohjaamo_is_never_offered_to_someone_over_30(bundled: Catalogue) -> None:
    answers = {"language": "fi", "age_group": "50_plus", "municipality": "rovaniemi"}
    recs = recommend(bundled, answers, now=NOW, limit=50)
    assert "ohjaamo-rovaniemi" not in ids(recs)
    assert "ohjaus-yli30-rovaniemi" in ids(recs)


def test_swedish_speaker_in_raasepori_gets_swedish_items(
    bundled: Catalogue, texts: TextCatalogue
) -> None:
    answers = {"language": "sv", "municipality": "raasepori", "age_group": "50_plus"}
    answers["situation"] = "unemployed"  # DuuniKaverit is for people out of work
    recs = recommend(bundled, answers, now=NOW, limit=10)
    assert len(recs) >= 5
    assert all("sv" in r.item.languages for r in recs)
    assert all(r.item.online or "raasepori" in r.item.municipalities for r in recs)
    assert {"duunikaverit-raasepori", "duuniexpo-raasepori"} <= set(ids(recs))
    swedish_only = [r for r in recs if r.item.languages == ("sv",)]
    assert swedish_only
    assert all(Reason("language", {"in_language": "sv"}) in r.reasons for r in swedish_only)
    sentence = render_reasons(recs[0].reasons, t_for(texts, "sv"))
    assert sentence.startswith("Eftersom ")


def test_international_student_in_rovaniemi(bundled: Catalogue) -> None:
    answers = {
        "language": "en",
        "municipality": "rovaniemi",
        "situation": "studying",
        "international_student": "yes",
        "age_group": "under_30",
    }
    recs = recommend(bundled, answers, now=NOW)
    assert recs[0].item.id == "international-students"
    assert all("en" in r.item.languages for r in recs)
    local = {"language": "fi", "municipality": "rovaniemi", "international_student": "no"}
    assert "international-students" not in ids(recommend(bundled, local, now=NOW, limit=50))


def test_empty_profile_gets_online_items_open_to_all_without_invented_reasons(
    bundled: Catalogue, texts: TextCatalogue
) -> None:
    # "For you" before any plan: nothing is known, so nothing meant for a group (over 50s,
    # international students) and no reason the person did not give ("from home")
    recs = recommend(bundled, {}, now=NOW, limit=50)
    assert recs
    assert all(r.item.online and r.item.audience.everyone for r in recs)
    for rec in recs:
        assert {reason.code for reason in rec.reasons} <= {"soon"}
        sentence = render_reasons(rec.reasons, t_for(texts, "en"))
        assert sentence in ("", "Because it starts soon.")


def test_municipality_other_means_online_only(bundled: Catalogue) -> None:
    recs = recommend(bundled, {"language": "fi", "municipality": "other"}, now=NOW, limit=50)
    assert recs
    assert all(r.item.online for r in recs)


def test_languages_read_widen_the_language_filter(bundled: Catalogue) -> None:
    base = {"language": "fi", "municipality": "rovaniemi"}
    only_fi = ids(recommend(bundled, base, now=NOW, limit=100))
    assert "international-students" not in only_fi  # English only
    with_en = {**base, "languages_read": ["en"], "international_student": "yes"}
    with_en["situation"] = "studying"
    assert "international-students" in ids(recommend(bundled, with_en, now=NOW, limit=100))


def test_plain_finnish_readers_get_finnish_items(bundled: Catalogue) -> None:
    def ranked(language: str) -> list[str]:
        profile = {"language": language, "municipality": "rovaniemi"}
        return ids(recommend(bundled, profile, now=NOW, limit=100))

    assert "international-students" not in ranked("fi")  # English only
    assert ranked("fi-selko") == ranked("fi")


# --- hard filters on a small catalogue --------------------------------------------------------


def make_item(item_id: str, **overrides: Any) -> Item:
    raw: dict[str, Any] = {
        "id": item_id,
        "kind": "group_coaching",
        "title": {"fi": "Ryhmä", "sv": "Grupp", "en": "Group"},
        "summary": {"fi": "Ryhmävalmennus.", "sv": "Gruppträning.", "en": "Group coaching."},
        "organiser": "Testi",
        "municipalities": ["lohja"],
        "place": {"name": "Luksia", "address": "Toivonkatu 4"},
        "languages": ["fi"],
        "topics": ["job_search"],
        "schedule": {"dates": ["2026-12-10 10:00"]},
        "duration_minutes": 120,
    }
    raw.update(overrides)
    return Item.model_validate(raw)


LOHJA = {"language": "fi", "municipality": "lohja"}


def test_full_items_are_left_out() -> None:
    catalogue = Catalogue((make_item("aa", capacity=10), make_item("bb")))
    assert ids(recommend(catalogue, LOHJA, now=NOW, seats_taken={"aa": 10})) == ["bb"]
    recs = recommend(catalogue, LOHJA, now=NOW, seats_taken={"aa": 9})
    assert ids(recs) == ["aa", "bb"]
    assert (recs[0].seats_left, recs[1].seats_left) == (1, None)


def test_past_and_too_far_items_are_left_out() -> None:
    catalogue = Catalogue(
        (
            make_item("past", schedule={"dates": ["2026-11-30 10:00"]}),
            make_item("started", schedule={"dates": ["2026-12-01 08:30"]}),
            make_item("soon", schedule={"dates": ["2026-12-01 09:00"]}),
            make_item("far", schedule={"dates": ["2027-06-01 10:00"]}),
        )
    )
    assert ids(recommend(catalogue, LOHJA, now=NOW)) == ["soon"]
    assert ids(recommend(catalogue, LOHJA, now=NOW, horizon_days=200)) == ["soon", "far"]


def test_course_runs_that_have_begun_are_left_out_unless_open_entry() -> None:
    run = {"start": "2026-11-30", "end": "2026-12-10", "days": ["mon", "wed"], "time": "9:00"}
    catalogue = Catalogue(
        (
            make_item("closed", schedule={"range": run}),
            make_item("open", schedule={"range": {**run, "open_entry": True}}),
        )
    )
    recs = recommend(catalogue, LOHJA, now=NOW)
    assert ids(recs) == ["open"]
    assert (recs[0].occurrence.start.day, recs[0].occurrence.session) == (2, 2)


def test_language_and_place_filters() -> None:
    catalogue = Catalogue(
        (
            make_item("fi-lohja"),
            make_item("sv-lohja", languages=["sv"]),
            make_item("fi-hanko", municipalities=["hanko"]),
            make_item("fi-online", municipalities=[], online=True, place=None),
        )
    )
    assert sorted(ids(recommend(catalogue, LOHJA, now=NOW))) == ["fi-lohja", "fi-online"]
    swedish = {"language": "sv", "municipality": "lohja"}
    assert ids(recommend(catalogue, swedish, now=NOW)) == ["sv-lohja"]
    both = {**swedish, "languages_read": ["fi"]}
    assert sorted(ids(recommend(catalogue, both, now=NOW))) == [
        "fi-lohja",
        "fi-online",
        "sv-lohja",
    ]


def test_audience_is_a_rule_and_unanswered_is_not_a_yes() -> None:
    catalogue = Catalogue(
        (
            make_item("young-strict", audience={"age_groups": ["under_30"], "strict": True}),
            make_item("young", audience={"age_groups": ["under_30"]}),
            make_item("out-of-work", audience={"situations": ["unemployed"]}),
            make_item("long-term", audience={"unemployment": ["over_12m"]}),
            make_item("students", audience={"international_students": True}),
            make_item("everyone"),
        )
    )
    older = {**LOHJA, "age_group": "50_plus"}
    assert ids(recommend(catalogue, older, now=NOW)) == ["everyone"]
    young = {**LOHJA, "age_group": "under_30"}
    assert ids(recommend(catalogue, young, now=NOW)) == ["young", "young-strict", "everyone"]
    # not answered: nothing meant for a group
    assert ids(recommend(catalogue, LOHJA, now=NOW)) == ["everyone"]
    working = {**LOHJA, "situation": "employed_looking"}
    assert ids(recommend(catalogue, working, now=NOW)) == ["everyone"]
    short = {**LOHJA, "situation": "unemployed", "unemployment_duration": "3_12m"}
    assert ids(recommend(catalogue, short, now=NOW)) == ["out-of-work", "everyone"]
    long = {**short, "unemployment_duration": "over_12m"}
    assert ids(recommend(catalogue, long, now=NOW)) == ["long-term", "out-of-work", "everyone"]
    student = {**LOHJA, "international_student": "yes"}
    assert ids(recommend(catalogue, student, now=NOW)) == ["students", "everyone"]


def test_field_and_need_rules() -> None:
    catalogue = Catalogue(
        (
            make_item(
                "safety",
                kind="card_training",
                topics=["safety_card", "work_cards"],
                fields=["construction"],
            ),
            make_item("building", topics=["new_field"], fields=["construction"]),
            make_item("business", topics=["entrepreneurship", "networking"]),
            make_item("general", topics=["job_search"]),
        ),
        field_topics={"construction": ("safety_card",), "social_health": ("first_aid",)},
    )
    care = {**LOHJA, "interests": ["social_health"], "help_wanted": ["job", "new_field"]}
    # a card course and a construction course are not for someone into care, nor a business
    # coaching for someone who never mentioned a business
    assert ids(recommend(catalogue, care, now=NOW)) == ["general"]
    # "other or not sure yet": other fields stay open
    unsure = {**care, "interests": ["social_health", "other"]}
    assert sorted(ids(recommend(catalogue, unsure, now=NOW))) == ["building", "general", "safety"]
    builder = {**LOHJA, "interests": ["construction"], "help_wanted": ["job"]}
    recs = recommend(catalogue, builder, now=NOW)
    assert ids(recs)[-1] == "building"  # its field only, no help: below both
    safety = next(r for r in recs if r.item.id == "safety")
    assert safety.reasons[:2] == (
        Reason("field", {"field": "construction"}),
        Reason("topic", {"topic": "safety_card"}),
    )
    business = {**LOHJA, "help_wanted": ["own_business"]}
    assert ids(recommend(catalogue, business, now=NOW))[0] == "business"
    # nothing said yet: no relevance rule
    assert len(recommend(catalogue, LOHJA, now=NOW)) == 4


# --- soft scores ------------------------------------------------------------------------------


def test_wanted_help_interests_and_forms_raise_items() -> None:
    catalogue = Catalogue(
        (
            make_item("plain"),
            make_item("business", topics=["entrepreneurship"]),
            make_item("building", fields=["construction"]),
            make_item("one-to-one", kind="individual_coaching"),
        )
    )
    assert ids(recommend(catalogue, {**LOHJA, "help_wanted": ["own_business"]}, now=NOW))[0] == (
        "business"
    )
    assert ids(recommend(catalogue, {**LOHJA, "interests": ["construction"]}, now=NOW))[0] == (
        "building"
    )
    recs = recommend(catalogue, {**LOHJA, "preferred_form": ["one_to_one"]}, now=NOW)
    assert recs[0].item.id == "one-to-one"
    assert Reason("form", {"form": "one_to_one"}) in recs[0].reasons


# --- dismissals -------------------------------------------------------------------------------


def test_dismissed_item_is_left_out_and_similar_items_lowered() -> None:
    catalogue = Catalogue(
        (
            make_item("cards-a", kind="card_training", series="cards", fields=["construction"]),
            make_item("cards-b", kind="card_training", series="cards", fields=["construction"]),
            make_item("other-card", kind="card_training", topics=["job_search"]),
            make_item("care", fields=["social_health"], topics=["new_field"]),
        )
    )
    answers = {**LOHJA, "help_wanted": ["job"], "interests": ["construction", "social_health"]}
    before = {r.item.id: r.score for r in recommend(catalogue, answers, now=NOW)}

    def after(why: str) -> dict[str, int]:
        recs = recommend(catalogue, answers, now=NOW, dismissed={"cards-a": why})
        return {r.item.id: r.score for r in recs}

    done = after("already_done")
    assert "cards-a" not in done
    assert "cards-b" not in done
    assert done["other-card"] < before["other-card"]  # same kind, shared topic
    assert done["care"] == before["care"]
    field = after("not_my_field")
    assert field["cards-b"] < before["cards-b"]
    assert field["care"] == before["care"]
    place = after("wrong_place")
    assert all(place[i] < before[i] for i in place)  # all at the same place
    time = after("wrong_time")
    assert all(time[i] < before[i] for i in time)  # all at the same time
    unknown = after("something_else")
    assert "cards-a" not in unknown
    assert unknown == {k: v for k, v in before.items() if k in unknown}


def test_dismissal_moves_a_similar_item_below_a_different_one(bundled: Catalogue) -> None:
    answers = {"language": "fi", "municipality": "lohja", "help_wanted": ["new_field"]}
    answers["interests"] = ["construction"]
    first = recommend(bundled, answers, now=NOW, limit=10)
    assert first[0].item.series == "tyoturvallisuuskortti"
    again = recommend(
        bundled, answers, now=NOW, limit=10, dismissed={first[0].item.id: "not_my_field"}
    )
    assert first[0].item.id not in ids(again)
    before = {r.item.id: r.score for r in first}
    after = {r.item.id: r.score for r in again}
    same_field = [i for i in after if "construction" in bundled.get(i).fields]  # type: ignore[union-attr]
    assert same_field
    assert all(after[i] == before[i] - 30 for i in same_field)


# --- determinism and speed-ups ----------------------------------------------------------------


def random_answers(rng: random.Random) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "language": rng.choice(["fi", "sv", "en"]),
        "municipality": rng.choice([*MUNICIPALITIES, "other"]),
        "age_group": rng.choice(["under_30", "30_49", "50_plus"]),
        "situation": rng.choice(["unemployed", "studying", "employed_looking"]),
        "interests": rng.sample(FIELDS, rng.randint(0, 2)),
        "help_wanted": rng.sample(HELP_WANTED, rng.randint(0, 2)),
        "preferred_form": rng.sample(FORMS, rng.randint(0, 2)),
    }
    return {k: v for k, v in answers.items() if rng.random() < 0.8}


def test_deterministic_and_independent_of_item_order(bundled: Catalogue) -> None:
    rng = random.Random(3)
    shuffled_items = list(bundled.items)
    rng.shuffle(shuffled_items)
    shuffled = Catalogue(tuple(shuffled_items), field_topics=bundled.field_topics)
    for _ in range(50):
        answers = random_answers(rng)
        a = recommend(bundled, answers, now=NOW, limit=10)
        b = recommend(bundled, answers, now=NOW, limit=10)
        c = recommend(shuffled, answers, now=NOW, limit=10)
        assert a == b
        assert [(r.item.id, r.score, r.occurrence) for r in a] == [
            (r.item.id, r.score, r.occurrence) for r in c
        ]
        keys = [(-r.score, r.occurrence.start, r.item.id) for r in a]
        assert keys == sorted(keys)


def test_ties_are_broken_by_date_then_id() -> None:
    catalogue = Catalogue(
        (
            make_item("b-later", schedule={"dates": ["2026-12-10 12:00"]}),
            make_item("c-same", schedule={"dates": ["2026-12-10 10:00"]}),
            make_item("a-same", schedule={"dates": ["2026-12-10 10:00"]}),
        )
    )
    assert ids(recommend(catalogue, LOHJA, now=NOW)) == ["a-same", "c-same", "b-later"]


def test_cached_occurrences_match_a_fresh_recommender(bundled: Catalogue) -> None:
    shared = Recommender(bundled)
    rng = random.Random(5)
    moments = [NOW + timedelta(hours=rng.randint(0, 24 * 90)) for _ in range(25)]
    moments += [NOW, NOW - timedelta(days=3)]  # and back in time
    for moment in moments:
        answers = random_answers(rng)
        fresh = Recommender(bundled).recommend(answers, now=moment)
        assert shared.recommend(answers, now=moment) == fresh
        assert all(r.occurrence.start >= moment for r in fresh)


def test_profile_is_lenient() -> None:
    profile = Profile.from_answers(
        {
            "age_group": 3049,  # YAML's reading of an unquoted 30_49
            "municipality": "Atlantis",
            "help_wanted": "own_business",
            "interests": ["construction", 7, "nonsense"],
            "international_student": "yes",
            "language": "sv",
            "languages_read": ["fi", "xx"],
            "unemployment_duration": "over_12m",
            "situation": "studying",
        }
    )
    assert profile.age_group == "30_49"
    assert profile.municipality is None
    assert profile.help_wanted == ("own_business",)
    assert profile.interests == ("construction",)
    assert profile.international_student is True
    assert profile.reads == frozenset({"fi", "sv"})
    assert profile.unemployment_duration is None  # only meaningful when unemployed


def test_naive_now_is_refused(bundled: Catalogue) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        recommend(bundled, {}, now=datetime(2026, 12, 1))


def test_browse_filters_and_sorts_by_date(bundled: Catalogue) -> None:
    recommender = Recommender(bundled)
    cards = recommender.browse(now=NOW, kind="card_training")
    assert cards
    assert all(item.kind == "card_training" for item, _ in cards)
    starts = [occurrence.start for _, occurrence in cards]
    assert starts == sorted(starts)
    in_hanko = recommender.browse(now=NOW, municipality="hanko", include_online=False)
    assert in_hanko
    assert all("hanko" in item.municipalities for item, _ in in_hanko)
    swedish = recommender.browse(now=NOW, languages=["sv"])
    assert swedish
    assert all("sv" in item.languages for item, _ in swedish)


# --- reasons ----------------------------------------------------------------------------------


def test_every_reason_has_a_text(bundled: Catalogue) -> None:
    rng = random.Random(11)
    keys = required_text_keys()
    seen: set[str] = set()
    for _ in range(300):
        answers = random_answers(rng)
        if rng.random() < 0.3:
            answers["international_student"] = "yes"
            answers["unemployment_duration"] = "over_12m"
        dismissed: Mapping[str, str] = {}
        for rec in recommend(bundled, answers, now=NOW, limit=8, dismissed=dismissed):
            for reason in rec.reasons:
                assert reason.text_key in keys, reason
                seen.add(reason.code)
    assert {"place", "help", "field", "topic", "age", "form", "language"} <= seen
    assert set(DISMISS_REASONS) == {"wrong_place", "wrong_time", "not_my_field", "already_done"}


def test_render_reasons(texts: TextCatalogue) -> None:
    t = t_for(texts, "en")
    reasons = (
        Reason("age", {"age_group": "50_plus"}),
        Reason("field", {"field": "construction"}),
        Reason("soon"),
    )
    assert render_reasons(reasons, t) == (
        "Because you are over 50 and you are interested in construction."
    )
    assert render_reasons(reasons, t, limit=1) == "Because you are over 50."
    assert render_reasons((), t) == ""
    fi = render_reasons((Reason("place", {"municipality": "vihti"}),), t_for(texts, "fi"))
    assert fi == "Koska asut Vihdissä."
