"""What the person sees of their data: the "my data" message with its buttons, the JSON file,
the questions before deleting or withdrawing, and what an erasure removed. Pure functions of
the exported data; no database, no Telegram."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from bot.app import App
from bot.engine.output import Button, Document, Reply
from db.repositories import ErasureCounts

HELSINKI = ZoneInfo("Europe/Helsinki")
_LANGUAGE_NAMES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
EXPORT_FILENAME = "urapolku-my-data.json"
#: the callback prefix of the privacy buttons
PREFIX: Final = "pv"
# callback actions
DOWNLOAD, DELETE, DELETE_YES, WITHDRAW, WITHDRAW_YES, GIVE, NOTICE, HOME = (
    "dl",
    "del",
    "del!",
    "wd",
    "wd!",
    "give",
    "ntc",
    "home",
)
#: "Cancel" under the delete question and under the withdraw question
KEEP_DATA, KEEP_CONSENT = "x", "wx"
#: the consent question asked again after the consent text changed
AGAIN_YES, AGAIN_NO, AGAIN_MORE = "ca", "cn", "cm"


def data(action: str) -> str:
    return f"{PREFIX}:{action}"


def when(value: str | datetime | None) -> str:
    """A date and time as people in Finland write it, in Finnish time."""
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(HELSINKI)
    return local.strftime("%-d.%-m.%Y %H:%M")


def day(value: str | None) -> str:
    return when(value).split(" ")[0] if value else ""


class Texts:
    """``privacy.*`` texts in one language."""

    def __init__(self, app: App, language: str) -> None:
        self.app = app
        self.language = language

    def __call__(self, key: str, **params: Any) -> str:
        return self.app.t(f"privacy.{key}", self.language, **params)

    def button(self, key: str, action: str) -> Button:
        return Button(self(f"button.{key}"), data(action))


def my_data_text(app: App, language: str, exported: dict[str, Any]) -> str:
    """Everything stored, in the person's words: answers as they saw the questions."""
    t = Texts(app, language)
    consent = exported["consent"]
    blocks = [t("mydata.title")]
    if consent["given"]:
        blocks.append(t("mydata.consent_yes", date=day(consent["decided_at"])))
    else:
        blocks.append(t("mydata.consent_no"))
    code = exported["person"]["language"]
    names: dict[str, str] = getattr(app.content.texts, "names", None) or {}
    language_name = names.get(code) or _LANGUAGE_NAMES.get(code, code)
    blocks.append(t("mydata.language", name=language_name))
    answers = exported["answers"]
    engine = app.engine
    if answers:
        lines = [t("mydata.answers")]
        lines += [engine.describe_answer(a["key"], a["value"], language) for a in answers]
        blocks.append("\n".join(lines))
    else:
        blocks.append(t("mydata.no_answers"))
    signups = [s for s in exported["event_signups"] if s["status"] != "cancelled"]
    if signups:
        catalogue = app.content.catalogue
        lines = [t("mydata.signups")]
        for signup in signups:
            item = catalogue.get(signup["item_id"]) if catalogue is not None else None
            title = item.title.get(language) if item is not None else signup["item_id"]
            line = t("mydata.signup", title=title, when=when(signup["starts_at"]))
            if signup["status"] == "waiting":
                line += " " + t("mydata.waiting")
            lines.append(line)
        blocks.append("\n".join(lines))
    requests = exported["coach_requests"]
    if requests:
        lines = [t("mydata.requests")]
        for request in requests:
            topic = engine.describe_answer("handoff_topic", request["topic"], language)
            topic = topic.split(": ", 1)[-1]
            status = t(
                "mydata.request_closed" if request["status"] == "closed" else "mydata.request_open"
            )
            line = t(
                "mydata.request",
                id=request["id"],
                topic=topic,
                date=day(request["created_at"]),
                status=status,
            )
            if request["messages"]:
                line += ", " + t("mydata.messages", count=len(request["messages"]))
            lines.append(line)
        blocks.append("\n".join(lines))
    blocks.append(t("mydata.hint"))
    return "\n\n".join(blocks)


def my_data_reply(
    app: App, language: str, exported: dict[str, Any], *, edit: bool = False
) -> Reply:
    t = Texts(app, language)
    consent_button = (
        t.button("withdraw", WITHDRAW) if exported["consent"]["given"] else t.button("give", GIVE)
    )
    buttons = [
        t.button("download", DOWNLOAD),
        t.button("delete", DELETE),
        consent_button,
        t.button("notice", NOTICE),
        t.button("menu", HOME),
    ]
    return Reply.column(my_data_text(app, language, exported), buttons, edit=edit)


def notice_reply(app: App, language: str, notice: str) -> Reply:
    """The privacy notice, with the way back to the main menu."""
    return Reply.column(notice, [Texts(app, language).button("menu", HOME)])


def export_reply(app: App, language: str, exported: dict[str, Any]) -> Reply:
    """The data as a JSON file (sendDocument), readable by people and programs."""
    body = {"exported_at": app.clock().isoformat(), "service": "Urapolku", **exported}
    content = json.dumps(body, ensure_ascii=False, indent=2).encode("utf-8")
    document = Document(EXPORT_FILENAME, content, "application/json")
    return Reply(Texts(app, language)("download.caption"), document=document)


def delete_question(app: App, language: str, *, edit: bool) -> Reply:
    t = Texts(app, language)
    buttons = [t.button("confirm_delete", DELETE_YES), t.button("cancel", KEEP_DATA)]
    return Reply.column(t("delete.question"), buttons, edit=edit)


def withdraw_question(app: App, language: str) -> Reply:
    t = Texts(app, language)
    buttons = [t.button("confirm_withdraw", WITHDRAW_YES), t.button("cancel", KEEP_CONSENT)]
    return Reply.column(t("withdraw.question"), buttons, edit=True)


def erased_text(app: App, language: str, counts: ErasureCounts) -> str:
    """What was deleted, as counts; only the kinds the person had."""
    t = Texts(app, language)
    shown = [
        t(f"delete.{kind}", count=getattr(counts, kind))
        for kind in ("answers", "signups", "dismissals", "requests", "messages")
        if getattr(counts, kind)
    ]
    body = "\n".join(shown) if shown else t("delete.nothing")
    return f"{t('delete.done')}\n\n{body}\n\n{t('delete.after')}"


def consent_again_reply(app: App, language: str) -> Reply:
    """The consent question again, after the consent text changed (``CONSENT_VERSION``)."""
    t = Texts(app, language)
    step = app.content.dialogs.step("onboarding", "consent")
    question = getattr(step, "text", None)
    text = t("consent.changed")
    if question is not None:
        text += "\n\n" + app.content.texts.resolve(question, language)
    buttons = [
        t.button("agree", AGAIN_YES),
        t.button("anonymous", AGAIN_NO),
        t.button("more", AGAIN_MORE),
    ]
    return Reply.column(text, buttons)
