"""The funder's report on a small database seeded by hand, on SQLite and PostgreSQL.

Every expected figure is written out literally, with how it was counted from the seed in a
comment; nothing is recomputed with the code under test. The period is October 2026 in
Finnish time: 2026-10-01 00:00 +03 (= 2026-09-30 21:00 UTC) up to 2026-11-01 00:00 +02
(= 2026-10-31 22:00 UTC), summer time having ended on 25 October.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.features import build_registry
from bot.features.reports import router as report_router
from bot.features.reports.chart import chart_png
from bot.features.reports.report import (
    build_report,
    last_full_month,
    period_of,
    to_csv,
    to_json,
    to_text,
)
from db import Database
from db.models import Answer, Event, EventAttendance, EventSignup, HandoffRequest, Person
from db.repositories import ReportRepository
from tests.support import app_on, make_settings

X = "yrittajakaverit-karkkila"  # a real item: entrepreneurship_coaching
Y = "gone-item"  # no longer in the catalogue


def at(month: int, day: int, hour: int = 9, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def seed(db: Database) -> None:
    async with db.transaction() as session:
        people = {
            # P1..P5, P7 as in the module doc; first_seen, last_seen, consent, language
            1: Person(telegram_id=1, language="fi", consent_version=1,
                      first_seen=at(10, 2), last_seen=at(10, 20)),
            2: Person(telegram_id=2, language="fi", consent_version=1,
                      first_seen=at(10, 5), last_seen=at(10, 6)),
            3: Person(telegram_id=3, language="sv", consent_version=1,
                      first_seen=at(9, 10), last_seen=at(10, 15)),
            4: Person(telegram_id=4, language="fi", consent_version=1,
                      first_seen=at(9, 1), last_seen=at(9, 20)),
            5: Person(telegram_id=5, language="en", consent_version=None,
                      first_seen=at(10, 10), last_seen=at(10, 10)),
            # 1 November 00:30 in Finland: after the period
            6: Person(telegram_id=6, language="fi", consent_version=1,
                      first_seen=at(10, 31, 22, 30), last_seen=at(10, 31, 22, 30)),
            # 1 October 00:30 in Finland: inside the period
            7: Person(telegram_id=7, language="fi", consent_version=1,
                      first_seen=at(9, 30, 21, 30), last_seen=at(9, 30, 21, 30)),
        }  # fmt: skip
        session.add_all(people.values())
        await session.flush()
        pid = {n: p.id for n, p in people.items()}

        answers = [
            (1, "municipality", "lohja"), (1, "age_group", "50_plus"),
            (1, "unemployment_duration", "over_12m"), (1, "situation", "unemployed"),
            (2, "municipality", "lohja"), (2, "age_group", "under_30"),
            (2, "situation", "recent_graduate"),
            (3, "municipality", "vihti"), (3, "age_group", "30_49"),
            (4, "municipality", "lohja"),
        ]  # fmt: skip
        session.add_all(
            Answer(person_id=pid[n], dialog="career_plan", key=k, value=json.dumps(v))
            for n, k, v in answers
        )

        def request(person: int | None, created: datetime, **kw: Any) -> HandoffRequest:
            return HandoffRequest(
                person_id=pid[person] if person else None,
                language="fi",
                topic="job_search",
                contact_method="chat",
                created_at=created,
                announced_at=created,
                last_activity_at=created,
                **kw,
            )

        session.add_all(
            [
                # R1: P1, claimed after 30 min, closed as employed
                request(1, at(10, 3, 10), status="closed", municipality="lohja",
                        claimed_at=at(10, 3, 10, 30), closed_at=at(10, 10), outcome="employed"),
                # R2: P3, claimed after 90 min
                request(3, at(10, 8, 8), status="claimed", municipality="vihti",
                        claimed_at=at(10, 8, 9, 30)),
                # R3: P5 (no consent), not claimed
                request(5, at(10, 11), status="new"),
                # R4: anonymised, claimed after 10 min
                request(None, at(10, 20, 12), status="claimed", municipality="lohja",
                        claimed_at=at(10, 20, 12, 10)),
                # R5: anonymised, claimed after 60 min
                request(None, at(10, 25, 12), status="claimed", claimed_at=at(10, 25, 13)),
                # R6: P4, made in September, closed in October as education
                request(4, at(9, 25), status="closed", municipality="lohja",
                        claimed_at=at(9, 25, 10), closed_at=at(10, 2), outcome="education"),
                # R7: made exactly at the end of the period: not in it
                request(None, at(10, 31, 22), status="new"),
            ]
        )  # fmt: skip

        def signup(
            person: int, item: str, starts: datetime, status: str, created: datetime
        ) -> EventSignup:
            return EventSignup(person_id=pid[person], item_id=item, starts_at=starts,
                               status=status, created_at=created, updated_at=created)  # fmt: skip

        signups = [
            signup(1, X, at(10, 12, 6), "active", at(10, 4)),  # S1: attended
            signup(2, X, at(10, 12, 6), "active", at(10, 6)),  # S2
            signup(3, X, at(10, 12, 6), "cancelled", at(10, 7)),  # S3
            signup(7, Y, at(10, 1, 7), "active", at(9, 20)),  # S4: attended
            signup(4, X, at(9, 14, 6), "active", at(9, 1)),  # S5: attended, in September
        ]
        session.add_all(signups)
        await session.flush()
        for s in (signups[0], signups[3], signups[4]):
            session.add(EventAttendance(signup_id=s.id, marked_at=s.starts_at))

        def stat(name: str, when: datetime, **dims: Any) -> Event:
            return Event(name=name, at=when, dims=dims)

        session.add_all(
            [
                stat("career_plan_completed", at(10, 2), municipality="lohja"),
                stat("career_plan_completed", at(10, 5), municipality="lohja"),
                stat("career_plan_completed", at(10, 15), municipality="vihti"),
                stat("career_plan_completed", at(9, 15), municipality="lohja"),
                stat("recommendation_shown", at(10, 2), item=X, municipality="lohja"),
                stat("recommendation_shown", at(10, 5), item=X, municipality="lohja"),
                stat("recommendation_shown", at(10, 15), item=X, municipality="vihti"),
                stat("recommendation_shown", at(10, 16), item=Y, municipality=None),
                stat("event_signup", at(10, 4), item=X, kind="entrepreneurship_coaching",
                     municipality="lohja"),
                stat("event_signup", at(10, 6), item=X, kind="entrepreneurship_coaching",
                     municipality="lohja"),
                stat("event_signup", at(10, 1), item=Y, kind="card_training", municipality=None),
                stat("followup_answered", at(10, 3), outcome="employed_full_time", helped=5,
                     municipality="lohja"),
                stat("followup_answered", at(10, 4), outcome="still_looking", helped=2,
                     municipality="lohja"),
                stat("followup_answered", at(10, 5), outcome="studies", helped=4,
                     municipality="vihti"),
                stat("followup_answered", at(10, 6), outcome="employed_part_time", helped=4,
                     municipality=None),
                stat("followup_answered", at(10, 7), outcome="still_looking", helped=3,
                     municipality=None),
                stat("followup_answered", at(10, 8), outcome="subsidised_job", helped=None,
                     municipality=None),
                stat("followup_answered", at(9, 28), outcome="employed_full_time", helped=5,
                     municipality="lohja"),
            ]
        )  # fmt: skip


OCTOBER = period_of(date(2026, 10, 1), date(2026, 10, 31))
OCTOBER_LOHJA = period_of(date(2026, 10, 1), date(2026, 10, 31), "lohja")


def test_the_period_is_whole_finnish_days() -> None:
    assert (OCTOBER.start, OCTOBER.end) == (at(9, 30, 21), at(10, 31, 22))
    assert last_full_month(date(2026, 11, 28)) == (date(2026, 10, 1), date(2026, 10, 31))
    assert last_full_month(date(2027, 1, 1)) == (date(2026, 12, 1), date(2026, 12, 31))


async def test_figures(database: Database) -> None:
    await seed(database)
    async with database.read() as session:
        r = ReportRepository(session)
        # new: P1, P2, P5, P7 (P3, P4 came in September, P6 on 1 November)
        assert await r.people_new(OCTOBER) == 4
        # active: came before the end, used the bot in the period or later: P1 P2 P3 P5 P7
        assert await r.people_active(OCTOBER) == 5
        # among those: lohja P1 P2, vihti P3, no answer P5 P7
        assert await r.reached_by_answer(OCTOBER, "municipality") == {
            "lohja": 2,
            "vihti": 1,
            None: 2,
        }
        assert await r.reached_by_answer(OCTOBER, "age_group") == {
            "50_plus": 1,
            "under_30": 1,
            "30_49": 1,
            None: 2,
        }
        assert await r.reached_by_language(OCTOBER) == {"fi": 3, "sv": 1, "en": 1}
        # participants: P1 (R1, S1), P2 (S2), P3 (R2), P7 (attended S4); not P5 (no consent),
        # not P4 (request and sign-up in September; only the closing was in October)
        # over 50: P1; under 30: P2; over a year unemployed: P1; just graduated: P2
        assert await r.participants(OCTOBER) == (
            4,
            {"over_50": 1, "under_30": 1, "long_term_unemployed": 1, "recent_graduate": 1},
        )
        # three in October, one in September
        assert await r.count_events("career_plan_completed", OCTOBER) == 3
        assert await r.events_by("recommendation_shown", "item", OCTOBER) == {X: 3, Y: 1}
        assert await r.events_by("event_signup", "item", OCTOBER) == {X: 2, Y: 1}
        assert await r.events_by_pair("event_signup", "item", "kind", OCTOBER) == {
            (X, "entrepreneurship_coaching"): 2,
            (Y, "card_training"): 1,
        }
        # S1 (X) and S4 (Y); S5 was in September
        assert await r.attended_by_item(OCTOBER) == {X: 1, Y: 1}
        # R1..R5 made in October (R6 in September, R7 at the end); R1 R2 R4 R5 claimed
        assert await r.requests(OCTOBER) == (5, 4)
        # waits 10, 30, 60, 90 min: the median is (30 + 60) / 2 = 45 min
        assert await r.median_claim_seconds(OCTOBER) == pytest.approx(2700, abs=0.01)
        # closed in October: R1 employed, R6 education
        assert await r.closed_by_outcome(OCTOBER) == {"employed": 1, "education": 1}
        assert await r.events_by("followup_answered", "outcome", OCTOBER) == {
            "employed_full_time": 1,
            "still_looking": 2,
            "studies": 1,
            "employed_part_time": 1,
            "subsidised_job": 1,
        }
        # scores 5, 2, 4, 4, 3 (one answer without a score): 3 of 5 felt helped
        assert await r.followup_helped(OCTOBER) == (5, 3)

        # Lohja only
        assert await r.people_new(OCTOBER_LOHJA) == 2  # P1, P2
        assert await r.people_active(OCTOBER_LOHJA) == 2  # P1, P2
        # P1, P2
        assert await r.participants(OCTOBER_LOHJA) == (
            2,
            {"over_50": 1, "under_30": 1, "long_term_unemployed": 1, "recent_graduate": 1},
        )
        assert await r.attended_by_item(OCTOBER_LOHJA) == {X: 1}  # S1
        assert await r.requests(OCTOBER_LOHJA) == (2, 2)  # R1, R4
        assert await r.median_claim_seconds(OCTOBER_LOHJA) == pytest.approx(1200, abs=0.01)
        assert await r.closed_by_outcome(OCTOBER_LOHJA) == {"employed": 1, "education": 1}
        assert await r.count_events("career_plan_completed", OCTOBER_LOHJA) == 2
        assert await r.followup_helped(OCTOBER_LOHJA) == (2, 1)

        # an odd number of claimed requests: the middle one (R1 30 min, R2 90, R4 10 → 30)
        three = period_of(date(2026, 10, 1), date(2026, 10, 24))
        assert await r.median_claim_seconds(three) == pytest.approx(1800, abs=0.01)
        # nothing claimed: no median
        assert await r.median_claim_seconds(period_of(date(2026, 8, 1), date(2026, 8, 31))) is None


def report_app(tmp_path: Path, database: Database) -> App:
    settings = make_settings(tmp_path, bundled=True)
    return app_on(settings, database, build_registry())


EXPECTED_TEXT = """\
Urapolku – raportti
1.10.2026–31.10.2026 · kaikki kunnat

Tavoitetut ihmiset
  Uudet: <5
  Aktiiviset: 5

Tavoitetut kunnittain
  Lohja: <5
  Vihti: <5
  Ei tiedossa: <5

Tavoitetut ikäryhmittäin
  30–49 vuotta: <5
  50 vuotta tai yli: <5
  Alle 30 vuotta: <5
  Ei tiedossa: <5

Tavoitetut kielittäin
  suomi: <5
  englanti: <5
  ruotsi: <5

Osallistujat (suostumus ja palvelu) kohderyhmittäin
  Osallistujia yhteensä: <5
  Yli 50-vuotiaat: <5
  Alle 30-vuotiaat: <5
  Pitkäaikaistyöttömät (yli vuosi): <5
  Vastavalmistuneet: <5

Urasuunnitelmat
  Valmiit urasuunnitelmat: <5

Näytetyt suositukset
  YrittäjäKaverit Karkkila: <5
  gone-item: <5

Ilmoittautumiset tapahtumittain
  YrittäjäKaverit Karkkila: <5
  gone-item: <5

Ilmoittautumiset tyypeittäin
  Yrittäjyysvalmennus: <5
  Korttikoulutus: <5

Paikalla tapahtumissa
  Paikalla yhteensä: <5
  gone-item: <5
  YrittäjäKaverit Karkkila: <5

Valmentajapyynnöt
  Pyyntöjä: 5
  Valmentaja otti hoitaakseen: <5
  Odotus valmentajaan, mediaani: –

Suljetut pyynnöt tuloksittain
  Koulutus tai opiskelu: <5
  Työllistyi: <5

Seuranta: tilanne nyt
  Vastauksia: 6
  Etsin yhä työtä: <5
  Kokoaikatyössä: <5
  Osa-aikatyössä: <5
  Opiskelen: <5
  Palkkatukityössä: <5
  Koki saaneensa apua (4–5): –

Alle viiden suuruiset määrät näytetään muodossa <5. \
x: luku on piilotettu, jottei pientä lukua voisi laskea summasta. \
Siksi näkyvät luvut eivät aina täsmää yhteissummaan. \
Mediaani näytetään vähintään viidestä tapauksesta, \
osuus vain, kun sen kummallakin puolella on vähintään viisi vastausta (tai ei yhtään)."""


async def test_text_csv_json_and_chart(database: Database, tmp_path: Path) -> None:
    await seed(database)
    app = report_app(tmp_path, database)
    report = await build_report(app, date(2026, 10, 1), date(2026, 10, 31), language="fi")
    assert to_text(report) == EXPECTED_TEXT

    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    by_key = {row["key"]: row for row in rows}
    assert by_key["reached.active"] == {
        "section": "reached",
        "key": "reached.active",
        "label": "Aktiiviset",
        "value": "5",
        "kind": "count",
    }
    assert by_key["reached.new"]["value"] == "<5"
    # four claimed requests: no median; 3 of 5 felt helped: 3 is a small count, so no share
    assert by_key["requests.median_claim"]["value"] == ""
    assert by_key["followup.helped"]["value"] == ""
    assert by_key["municipality.unknown"]["label"] == "Ei tiedossa"

    data = json.loads(to_json(report))
    assert (data["from"], data["to"], data["municipality"]) == ("2026-10-01", "2026-10-31", None)
    [requests] = [s for s in data["sections"] if s["key"] == "requests"]
    assert [f["value"] for f in requests["figures"]] == [5, "<5", None]

    png = chart_png(report)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


async def test_one_municipality_in_swedish(database: Database, tmp_path: Path) -> None:
    await seed(database)
    app = report_app(tmp_path, database)
    report = await build_report(
        app, date(2026, 10, 1), date(2026, 10, 31), language="sv", municipality="lohja"
    )
    text = to_text(report)
    assert text.startswith("Urapolku – rapport\n1.10.2026–31.10.2026 · Lojo\n")
    # the Lohja share rests on two scores: not shown
    assert "  Fick hjälp (4–5): –\n" in text
    # two claimed requests: no median
    assert "  Väntan på coach, median: –\n" in text


def test_report_command_arguments() -> None:
    today = date(2026, 11, 28)
    assert report_router.parse_args("", today) == (date(2026, 10, 1), date(2026, 10, 31), None)
    assert report_router.parse_args("lohja", today) == (
        date(2026, 10, 1),
        date(2026, 10, 31),
        "lohja",
    )
    assert report_router.parse_args("2026-01-01 2026-03-31 Vihti", today) == (
        date(2026, 1, 1),
        date(2026, 3, 31),
        "vihti",
    )
    assert report_router.parse_args("2026-03-31 2026-01-01", today) is None
    assert report_router.parse_args("2026-13-01 2026-01-01", today) is None
    assert report_router.parse_args("a b", today) is None


def test_a_day_is_a_finnish_day() -> None:
    winter = period_of(date(2026, 12, 24), date(2026, 12, 24))
    assert winter.end - winter.start == timedelta(days=1)
    assert winter.start == at(12, 23, 22)


async def test_report_in_chat_for_admins_only(tmp_path: Path) -> None:
    from aiogram.methods import SendDocument, SendMessage

    from tests.support import make_app, make_harness

    app = await make_app(make_settings(tmp_path, bundled=True, admin_ids=[9001]), build_registry())
    try:
        await seed(app.db)
        h = make_harness(app)
        admin = h.person(9001, language_code="en")
        calls = await admin.send("/report 2026-10-01 2026-10-31")
        texts = [c.text for c in calls if isinstance(c, SendMessage)]
        assert len(texts) == 1
        lines = texts[0].split("\n")
        assert lines[:6] == [
            "Urapolku – report",
            "1.10.2026–31.10.2026 · all municipalities",
            "",
            "People reached",
            "  New: <5",
            "  Active: 5",
        ]
        assert "  Wait for a coach, median: –" in lines
        [document] = [c for c in calls if isinstance(c, SendDocument)]
        assert document.caption == "The report's chart"
        [sent] = h.session.files
        assert sent.filename == "urapolku-report-2026-10-01-2026-10-31.png"
        assert sent.content.startswith(b"\x89PNG")

        calls = await admin.send("/report 2026-10-31 2026-10-01")
        assert [c.text for c in calls if isinstance(c, SendMessage)] == [
            "Write /report (last month) or /report 2026-10-01 2026-10-31. "
            "You can add a municipality at the end, for example lohja."
        ]

        someone = h.person(1234)
        calls = await someone.send("/report")
        assert [c.text for c in calls if isinstance(c, SendMessage)] == [
            "Vain ylläpitäjät voivat tehdä tämän."
        ]
    finally:
        await app.db.dispose()


async def test_status_shows_the_admins_how_many_updates_were_set_aside(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from aiogram.methods import SendMessage

    from db.repositories import DECODE, HANDLE, DeadLetterRepository, OutboxRepository
    from tests.support import Clock, make_app, make_harness

    app = await make_app(make_settings(tmp_path, bundled=True, admin_ids=[9001]), build_registry())
    app.clock = Clock(datetime(2026, 12, 6, 12, 0, tzinfo=UTC))
    try:
        h = make_harness(app)
        admin = h.person(9001, language_code="en")
        async with app.db.transaction() as session:
            letters = DeadLetterRepository(session)
            await letters.record(
                1, chat_id=5, stage=DECODE, error="x", now=app.clock() - timedelta(days=30)
            )
            await letters.record(2, chat_id=5, stage=DECODE, error="x", now=app.clock())
            await letters.record(3, chat_id=6, stage=HANDLE, error="x", attempts=1, now=app.clock())
            outbox = OutboxRepository(session)
            await outbox.enqueue("card:1", "card", now=app.clock())
            item = await outbox.by_key("card:1")
            assert item is not None
            await outbox.mark_held(item.id, at=app.clock(), error="403")
        calls = await admin.send("/status")
        assert [c.text for c in calls if isinstance(c, SendMessage)] == [
            "The bot's status\n"
            "Updates set aside (messages the bot could not read or handle): 2 in the last 7 "
            "days, 3 in all. Latest: 2026-12-06 14:00.\n"
            "Outgoing messages waiting for an admin's decision: 1 held, 0 whose delivery is "
            "not confirmed."
        ]
        someone = h.person(1234)
        calls = await someone.send("/status")
        assert [c.text for c in calls if isinstance(c, SendMessage)] == [
            "Vain ylläpitäjät voivat tehdä tämän."
        ]
    finally:
        await app.db.dispose()
