"""The field → topic map editors own (content/field_topics.yaml): loaded with the catalogue,
checked with file:line problems, and what it does to the suggestions."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.catalogue import HELSINKI, Catalogue, Item, collect_catalogue, load_catalogue, recommend
from bot.catalogue.field_topics import load_field_topics
from bot.content.source import Severity

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=HELSINKI)


def test_the_bundled_map_is_loaded_with_the_catalogue() -> None:
    catalogue = load_catalogue(ROOT / "content" / "catalogue")
    assert catalogue.field_topics["hospitality_tourism"][0] == "hygiene_passport"
    assert catalogue.field_topics["construction"] == ("safety_card", "hot_work")
    assert catalogue.field_topics["social_health"][0] == "first_aid"
    _, problems = load_field_topics(
        ROOT / "content" / "field_topics.yaml",
        item_topics={t for item in catalogue for t in item.topics},
    )
    assert [p for p in problems if p.severity is not Severity.INFO] == []


def test_misspelt_fields_and_topics_are_errors_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "field_topics.yaml"
    path.write_text(
        "version: 1\n"
        "fields:\n"
        "  hospitality_tourism: [hygiene_pasport]\n"
        "  constuction: [safety_card]\n"
        "  industry: safety_card\n",
        encoding="utf-8",
    )
    found, problems = load_field_topics(path, "field_topics.yaml", item_topics={"hot_work"})
    errors = [p for p in problems if p.severity is Severity.ERROR]
    assert [(p.line, p.message) for p in errors] == [
        (3, "'hospitality_tourism': unknown topic 'hygiene_pasport'"),
        (4, "unknown field of work 'constuction'"),
    ]
    assert errors[0].hint == "did you mean 'hygiene_passport'?"
    assert errors[1].hint == "did you mean 'construction'?"
    # a single topic is a list of one; a topic no item has yet is a note
    assert found["industry"] == ("safety_card",)
    notes = [p.message for p in problems if p.severity is Severity.INFO]
    assert "no catalogue item has the topic 'safety_card' yet" in notes


def test_the_map_decides_which_card_course_an_interest_brings(tmp_path: Path) -> None:
    def card(item_id: str, topic: str) -> Item:
        return Item.model_validate(
            {
                "id": item_id,
                "kind": "card_training",
                "title": {"fi": "Kortti"},
                "summary": {"fi": "Korttikoulutus."},
                "organiser": "Testi",
                "municipalities": ["lohja"],
                "place": {"name": "Luksia"},
                "languages": ["fi"],
                "topics": [topic, "work_cards"],
                "schedule": {"dates": ["2026-12-10 10:00"]},
                "duration_minutes": 240,
            }
        )

    items = (card("passport", "hygiene_passport"), card("safety", "safety_card"))
    answers = {"language": "fi", "municipality": "lohja", "interests": ["hospitality_tourism"]}
    mapped = Catalogue(items, field_topics={"hospitality_tourism": ("hygiene_passport",)})
    assert [r.item.id for r in recommend(mapped, answers, now=NOW)] == ["passport"]
    # without the map, the interest says nothing about either card: neither is suggested
    assert recommend(Catalogue(items), answers, now=NOW) == []
    # collect_catalogue reads the map next to the catalogue folder
    (tmp_path / "catalogue").mkdir()
    (tmp_path / "field_topics.yaml").write_text(
        "version: 1\nfields:\n  construction: [hot_work]\n", encoding="utf-8"
    )
    catalogue, _ = collect_catalogue(tmp_path / "catalogue")
    assert catalogue.field_topics == {"construction": ("hot_work",)}
