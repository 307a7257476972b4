"""Issue 19, points 4 and 6, on the bundled dialogs and texts and the pure engine: every
question has a way back (except the very first language choice and the menu itself, which is
where "back" leads), back and paging use different arrows, typed labels are compared the
forgiving way, and texts with a number take their plural form by CLDR's rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel import Locale

from bot.content.snapshot import ENTRY_DIALOG, HOME, Content, load_content
from bot.engine.actions import ActionRegistry
from bot.engine.runner import BACK, Engine, TurnContext, pack, unpack
from bot.engine.schema import ChoiceStep, EndStep, InputStep
from bot.engine.state import ConversationState
from bot.engine.texts import BUNDLED_PLURAL_RULES, TextCatalogue, load_texts, plural_category
from bot.engine.words import WordList, normalise
from bot.features import build_registry, content_sections
from tests.support import ROOT

LANGUAGES = ("fi", "sv", "en", "fi-selko")


@pytest.fixture(scope="module")
def content() -> Content:
    registry = build_registry()
    return load_content(
        ROOT / "dialogs",
        ROOT / "content",
        default_language="fi",
        actions=registry,
        sections=content_sections(),
    )


def engine_for(content: Content) -> Engine:
    return Engine(content.dialogs, content.texts, ActionRegistry(), entry=ENTRY_DIALOG, home=HOME)


def waiting_steps(content: Content) -> list[tuple[str, ChoiceStep | InputStep]]:
    return [
        (dialog.id, step)
        for dialog in content.dialogs.dialogs.values()
        for step in dialog.steps
        if isinstance(step, ChoiceStep | InputStep)
    ]


async def test_every_question_has_a_way_back_but_the_first_language_choice(
    content: Content,
) -> None:
    """Each question is shown as it is after a resume or when a dialog is opened from the
    menu (nothing earlier in the history): the worst case for a way back."""
    engine = engine_for(content)
    first = (ENTRY_DIALOG, content.dialogs.dialogs[ENTRY_DIALOG].start)
    walked = 0
    for dialog_id, step in waiting_steps(content):
        state = ConversationState(dialog=dialog_id, step=step.id)
        for language in LANGUAGES:
            _, turn = await engine.current(state, TurnContext(language=language))
            back = [
                b.label
                for row in turn.replies[-1].buttons
                for b in row
                if (press := unpack(b.data)) is not None and press.option == BACK
            ]
            if (dialog_id, step.id) in (first, HOME):
                assert back == [], (dialog_id, step.id)
            elif not getattr(step, "back", True):
                # a question that leaves "back" out offers its own way to the menu instead
                dialog = content.dialogs.dialogs[dialog_id]
                ends = [dialog.step(option.next or "") for option in getattr(step, "options", [])]
                assert back == [], (dialog_id, step.id)
                assert any(isinstance(end, EndStep) and end.home for end in ends), step.id
            else:
                assert back == [content.texts.get("engine.back", language)], (
                    dialog_id,
                    step.id,
                    language,
                )
        walked += 1
    assert walked >= 30  # the walk saw the dialogs, not an empty list


async def test_back_from_a_first_question_leads_to_the_menu(content: Content) -> None:
    engine = engine_for(content)
    state = ConversationState(dialog="handoff", step="handoff_topic")
    state, turn = await engine.press(
        state, pack("handoff", "handoff_topic", BACK), TurnContext(language="en")
    )
    assert state.position == HOME
    assert turn.replies[-1].text == "What would you like to do?"


def test_back_and_paging_arrows_differ(content: Content) -> None:
    texts = content.texts
    for language in ("fi", "sv", "en"):
        back = {texts.get(k, language)[0] for k in ("engine.back", "events.button.back")}
        paging = {texts.get(k, language)[0] for k in ("events.button.previous",)}
        assert back == {"↩"}, language
        assert paging == {"◀"}, language
        assert texts.get("events.button.next", language).endswith("▶")


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("  kasvokkain ", "Kasvokkain"),
        ("takaisin", "↩ Takaisin"),
        ("VALMIS", "Valmis ✅"),
        ("kyllä sopii", "✅ Kyllä, sopii"),
        ("Raha-asiat tai jaksaminen", "Raha-asiat  tai jaksaminen"),
        ("ja", "Ja 👍🏽"),
    ],
)
def test_typed_labels_are_compared_without_case_spaces_or_emoji(typed: str, label: str) -> None:
    assert normalise(typed) == normalise(label)


def test_normalise_keeps_letters_and_digits_apart() -> None:
    assert normalise("Ohita") != normalise("Ohjaa")
    assert normalise("1") != normalise("2")
    assert normalise("✅") == ""


def test_stems_find_any_inflection_and_whole_words_only_themselves() -> None:
    words = WordList.parse("ihmi*, valmentaj*, person")
    assert words.found_in("haluan puhua ihmisen kanssa")
    assert words.found_in("Voisinko jutella valmentajalle?")
    assert words.found_in("can I talk to a person")
    assert not words.found_in("radera mina personuppgifter")
    assert not words.found_in("haluan puhua jonkun kanssa")


def test_plural_rules_come_from_cldr() -> None:
    assert [plural_category("fi", n) for n in (0, 1, 2, 5)] == ["other", "one", "other", "other"]
    assert plural_category("sv", 1) == "one"
    assert plural_category("en", 21) == "other"
    assert plural_category("fi-selko", 1) == "one"  # a variant uses its base language's rule
    assert [plural_category("ru", n) for n in (1, 3, 5)] == ["one", "few", "many"]  # from Babel
    assert plural_category("xx", 1) == "one"  # unknown: English's rule


def test_the_bundled_languages_plural_rules_are_babels() -> None:
    for language, rules in BUNDLED_PLURAL_RULES.items():
        assert Locale.parse(language).plural_form.rules == rules, language


def test_plural_texts_in_the_bundled_content() -> None:
    texts = load_texts(ROOT / "content" / "texts", "fi")
    assert texts.get("reload.failed", "fi", count=1).startswith("⚠️ Uudessa sisällössä on 1 virhe.")
    assert texts.get("reload.failed", "fi", count=2).startswith(
        "⚠️ Uudessa sisällössä on 2 virhettä."
    )
    assert texts.get("reload.failed", "en", count=1).startswith("⚠️ The new content has 1 error.")
    assert texts.get("engine.select_at_least", "sv", count=1) == "Välj minst ett alternativ."
    assert texts.get("engine.select_at_least", "sv", count=3) == "Välj minst 3 alternativ."
    # the number is the text's own parameter when it has no {count}
    assert texts.get("handoff.when_office", "en", hours=1) == "within one working hour"
    assert texts.get("handoff.when_office", "en", hours=4) == "within 4 working hours"
    # no number given: the "other" form, as any text
    assert texts.get("engine.select_at_least", "en") == "Choose at least {count}."


def test_a_plural_block_needs_other_and_only_categories(tmp_path: Path) -> None:
    (tmp_path / "fi.yaml").write_text(
        "version: 1\nlanguage: fi\ntexts:\n"
        "  a:\n    one: 'yksi'\n    other: '{count} monta'\n"
        "  b:\n    one: 'ei monikko: avain'\n    extra: 'toinen'\n",
        encoding="utf-8",
    )
    texts: TextCatalogue = load_texts(tmp_path, "fi")
    assert texts.get("a", "fi", count=1) == "yksi"
    assert texts.get("a", "fi", count=7) == "7 monta"
    # not a plural block: ordinary nested keys
    assert texts.get("b.one", "fi") == "ei monikko: avain"
    assert texts.get("b.extra", "fi") == "toinen"


@pytest.mark.parametrize(
    ("name", "typed", "expected"),
    [
        ("help", "Apua!!", True),
        ("help", " ohje 🙏 ", True),
        ("help", "hjälp?", True),
        ("coach", "IHMINEN.", True),
        ("coach", "Valmentaja, kiitos", False),  # a sentence: keywords.coach_in_text's work
        ("help", "apua tarvitsen", False),
    ],
)
def test_a_trigger_word_typed_alone_the_way_people_type_it(
    content: Content, name: str, typed: str, expected: bool
) -> None:
    assert content.is_keyword(name, typed) is expected
