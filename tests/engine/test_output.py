"""Joining the messages of a turn with the question that ends it (``fold``)."""

from __future__ import annotations

from bot.engine.output import MAX_MESSAGE, Button, Document, Reply, fold

QUESTION = Reply("Kysymys?", ((Button("Kyllä", "s:1:yes"),),))
LIST = Reply("Lista", ((Button("1. Kurssi", "e:c:x"),),), question_below=True)


def test_text_messages_join_the_question() -> None:
    replies = [Reply("✔ vastattu", edit=True), Reply("Hei!"), Reply("Olen botti.")]
    joined, lead = fold(replies, QUESTION)
    assert joined == Reply("Hei!\n\nOlen botti.\n\nKysymys?", QUESTION.buttons)
    assert lead == Reply("Hei!\n\nOlen botti.")
    assert replies == [Reply("✔ vastattu", edit=True)]  # the edit stays an edit


def test_nothing_to_join() -> None:
    replies = [Reply("✔ vastattu", edit=True)]
    assert fold(replies, QUESTION) == (QUESTION, None)
    assert replies == [Reply("✔ vastattu", edit=True)]


def test_a_message_with_buttons_joins_only_when_it_says_so_and_starts_the_run() -> None:
    summary = Reply("Yhteenveto")
    replies = [summary, LIST, Reply("Vielä")]
    joined, lead = fold(replies, QUESTION)
    assert joined == Reply("Lista\n\nVielä\n\nKysymys?", LIST.buttons + QUESTION.buttons)
    assert lead == Reply("Lista\n\nVielä", LIST.buttons)
    assert replies == [summary]  # a press on the list replaces it: the summary stays apart

    card = Reply("Kortti", ((Button("Kalenteriin", "e:f:x"),),))
    replies = [card]
    assert fold(replies, QUESTION) == (QUESTION, None)
    assert replies == [card]


def test_files_stay_apart() -> None:
    file = Reply("Kalenteri", document=Document("a.ics", b"x"))
    replies = [file]
    assert fold(replies, QUESTION) == (QUESTION, None)
    assert replies == [file]


def test_a_run_stops_before_the_limit() -> None:
    long = Reply("x" * (MAX_MESSAGE - 90))
    replies = [long, Reply("y" * 50), Reply("z" * 30)]
    joined, lead = fold(replies, QUESTION)
    assert joined.text == "y" * 50 + "\n\n" + "z" * 30 + "\n\nKysymys?"
    assert replies == [long]
    assert lead == Reply("y" * 50 + "\n\n" + "z" * 30)
