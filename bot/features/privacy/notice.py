"""The privacy notice (``/privacy``): ``content/privacy.yaml``, which each organisation running
the bot fills in, plus the parts the bot knows itself (how long data is kept, the person's
rights and the commands for them), rendered in the person's language.

``content/privacy.yaml``::

    version: 1
    controller:                       # who is responsible for the data (rekisterinpitäjä)
      name: {fi: …, sv: …, en: …}
      business_id: 0203167-9
      address: Toivonkatu 4, 08100 Lohja
      phone: 019 36961                # optional, like web
      web: https://www.luksia.fi
    joint_controllers: []             # optional: other organisations, same fields
    contact:                          # who answers questions about the data
      name: {fi: …, sv: …, en: …}
      email: tietosuoja@example.fi
      phone: …                        # optional
    purposes: {fi: …, sv: …, en: …}   # why the data is used
    legal_basis: {fi: …, sv: …, en: …}
    recipients: {fi: …, sv: …, en: …} # who sees the data
    transfers: {fi: …, sv: …, en: …}  # optional: e.g. Telegram's servers outside the EU

The file is the :data:`PRIVACY` section of the content snapshot: checked by ``urapolku check``
with file:line errors, and a live bot with a broken file keeps the last good notice (like the
rest of the content).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.app import App
from bot.content.languages import LANGUAGES
from bot.content.section import ContentSection
from bot.content.source import (
    ContentError,
    Loc,
    Problem,
    Severity,
    YamlDocument,
    load_yaml,
    problems_from_validation_error,
)
from bot.engine.texts import TextCatalogue

PRIVACY_FILE = "privacy.yaml"
#: an unfilled template: "[name of the organisation]"
_PLACEHOLDER = re.compile(r"\[[^\]]+\]")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", re.IGNORECASE)

Text = dict[str, Annotated[str, Field(min_length=1, max_length=1500)]]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(_Model):
    name: Text
    business_id: Annotated[str, Field(pattern=r"^\d{7}-\d$")]
    #: one address, or one per language where its place names differ (Lohja · Lojo, PL · PB)
    address: Annotated[str, Field(min_length=3, max_length=200)] | Text
    phone: str | None = None
    web: str | None = None


class Contact(_Model):
    name: Text
    email: Annotated[str, Field(max_length=120)]
    phone: str | None = None


class PrivacyFile(_Model):
    version: Literal[1]
    controller: Organisation
    joint_controllers: list[Organisation] = Field(default_factory=list)
    contact: Contact
    purposes: Text
    legal_basis: Text
    recipients: Text
    transfers: Text | None = None


@dataclass(frozen=True, slots=True)
class PrivacyContent:
    """The organisation's part of the notice; None when there is no (valid) file."""

    notice: PrivacyFile | None = None


def check_privacy_content(
    content_dir: Path,
    *,
    languages: tuple[str, ...] = LANGUAGES,
    variants: tuple[str, ...] = (),
) -> tuple[PrivacyContent | None, list[Problem]]:
    """Load ``content/privacy.yaml``; (None, problems) if it has errors. A missing file is a
    warning: /privacy then shows only what the bot knows itself.

    ``variants`` (plain Finnish): languages the texts may have, and must have where they are
    sentences (names are names, shown in the variant's base language)."""
    path = content_dir / PRIVACY_FILE
    if not path.is_file():
        return PrivacyContent(), [
            Problem(
                str(path),
                None,
                None,
                "no privacy notice file: /privacy cannot name who is responsible for the data",
                hint="copy content/privacy.yaml from the Urapolku repository and fill it in",
                severity=Severity.WARNING,
                code="privacy",
            )
        ]
    problems: list[Problem] = []
    try:
        doc = load_yaml(path)
    except ContentError as exc:
        return None, list(exc.problems)
    if not isinstance(doc.data, dict):
        return None, [doc.problem((), "the file must start with 'version: 1'")]
    try:
        parsed = PrivacyFile.model_validate(doc.data)
    except ValidationError as exc:
        known: dict[Loc, list[str]] = {(): list(PrivacyFile.model_fields)}
        return None, problems_from_validation_error(doc, exc, known_fields=known)
    problems += _check_languages(doc, parsed, languages, variants)
    problems += _check_filled_in(doc, doc.data, ())
    if not _EMAIL.match(parsed.contact.email):
        problems.append(
            doc.problem(
                ("contact", "email"),
                f"'{parsed.contact.email}' is not an email address",
                code="privacy",
            )
        )
    if any(p.severity is Severity.ERROR for p in problems):
        return None, problems
    return PrivacyContent(parsed), problems


def _texts(parsed: PrivacyFile) -> list[tuple[Loc, dict[str, str]]]:
    found: list[tuple[Loc, dict[str, str]]] = [
        (("controller", "name"), parsed.controller.name),
        (("contact", "name"), parsed.contact.name),
        (("purposes",), parsed.purposes),
        (("legal_basis",), parsed.legal_basis),
        (("recipients",), parsed.recipients),
    ]
    found += [
        (("joint_controllers", i, "name"), o.name) for i, o in enumerate(parsed.joint_controllers)
    ]
    if parsed.transfers is not None:
        found.append((("transfers",), parsed.transfers))
    return found


def _check_languages(
    doc: YamlDocument, parsed: PrivacyFile, languages: tuple[str, ...], variants: tuple[str, ...]
) -> list[Problem]:
    problems = []
    for loc, values in _texts(parsed):
        sentences = loc[-1] != "name"
        required = (*languages, *variants) if sentences else languages
        missing = [lang for lang in required if lang not in values]
        unknown = [lang for lang in values if lang not in (*languages, *variants)]
        if missing:
            problems.append(
                doc.problem(
                    loc,
                    f"'{'.'.join(map(str, loc))}' has no text in {', '.join(missing)}",
                    hint=f"the notice must be readable in {', '.join(required)}",
                    code="privacy",
                )
            )
        if unknown:
            problems.append(
                doc.problem(
                    loc,
                    f"unknown language {', '.join(unknown)}",
                    hint=f"use {', '.join((*languages, *variants))}",
                    code="privacy",
                )
            )
    return problems


def _check_filled_in(doc: YamlDocument, data: object, loc: Loc) -> list[Problem]:
    """Text left as a template ("[name of the organisation]") is an error: a person would read
    it as the answer to who has their data."""
    if isinstance(data, dict):
        return [p for k, v in data.items() for p in _check_filled_in(doc, v, (*loc, str(k)))]
    if isinstance(data, list):
        return [p for i, v in enumerate(data) for p in _check_filled_in(doc, v, (*loc, i))]
    if isinstance(data, str) and _PLACEHOLDER.search(data):
        return [
            doc.problem(
                loc,
                f"'{_PLACEHOLDER.search(data).group(0)}' is still a placeholder",  # type: ignore[union-attr]
                hint="write the organisation's real details here",
                code="privacy",
            )
        ]
    return []


# -- serving --------------------------------------------------------------------------------


def _check_section(
    content_dir: Path, texts: TextCatalogue
) -> tuple[PrivacyContent | None, list[Problem]]:
    return check_privacy_content(content_dir, variants=tuple(texts.variants))


#: the privacy notice's part of the content snapshot
PRIVACY: Final = ContentSection("privacy", _check_section)


def privacy_content(app: App) -> PrivacyContent:
    """The organisation's part of the notice in the content being served now."""
    return app.content.section(PRIVACY)


def _organisation(app: App, org: Organisation, language: str) -> str:
    name = pick_text(app, org.name, language)
    address = org.address
    if isinstance(address, dict):
        address = pick_text(app, address, language)
    lines = [name, app.t("privacy.notice.business_id", language, id=org.business_id), address]
    lines += [part for part in (org.phone, org.web) if part]
    return "\n".join(lines)


def render_consent_more(app: App, language: str) -> str:
    """ "Tell me more" under the consent question: how long data is kept, who sees what, and who
    is responsible for it, in a few lines; the whole notice is ``/privacy``."""
    settings = app.settings
    notice = privacy_content(app).notice
    params = {"days": settings.retention_days}
    lines = [app.t("privacy.consent.more", language, **params)]
    if notice is not None:
        names = [notice.controller, *notice.joint_controllers]
        default = settings.default_language
        controller = app.t("catalogue.when.list_and", language).join(
            pick_text(app, org.name, language) or org.name[default] for org in names
        )
        lines.append(app.t("privacy.consent.controller", language, controller=controller))
    lines.append(app.t("privacy.consent.whole_notice", language))
    return "\n\n".join(lines)


def pick_text(app: App, text: dict[str, str], language: str) -> str:
    """``text`` in ``language``, else in the language it falls back to (plain Finnish:
    Finnish), else in the default language."""
    for lang in app.content.texts.chain(language):
        if text.get(lang):
            return text[lang]
    return text.get(app.settings.default_language) or ""


def render_notice(app: App, language: str) -> str:
    """The whole notice in ``language``: the organisation's file and the bot's own parts."""

    def t(key: str, **params: object) -> str:
        return app.t(f"privacy.notice.{key}", language, **params)

    def pick(text: dict[str, str]) -> str:
        return pick_text(app, text, language)

    settings = app.settings
    notice = privacy_content(app).notice
    sections = [t("title")]
    if notice is not None:
        controllers = [_organisation(app, notice.controller, language)]
        controllers += [_organisation(app, o, language) for o in notice.joint_controllers]
        sections.append(t("controller") + "\n" + "\n\n".join(controllers))
        sections.append(t("purposes") + "\n" + pick(notice.purposes))
        sections.append(t("legal_basis") + "\n" + pick(notice.legal_basis))
    sections.append(t("stored") + "\n" + t("stored_text"))
    if notice is not None:
        sections.append(t("recipients") + "\n" + pick(notice.recipients))
        if notice.transfers is not None:
            sections.append(t("transfers") + "\n" + pick(notice.transfers))
    sections.append(
        t("retention")
        + "\n"
        + t(
            "retention_text",
            days=settings.retention_days,
            relay_days=settings.relay_retention_days,
        )
    )
    sections.append(t("rights") + "\n" + t("rights_text"))
    if notice is not None:
        contact = [pick(notice.contact.name), notice.contact.email]
        if notice.contact.phone:
            contact.append(notice.contact.phone)
        sections.append(t("contact") + "\n" + "\n".join(contact))
    else:
        sections.append(t("no_contact"))
    return "\n\n".join(sections)
