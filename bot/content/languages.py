"""The languages the bot is written in: every dialog, text, saved reply and the privacy notice
has all of them. A text file may add others (a variant such as ``fi-selko``); the languages a
person can choose are :attr:`bot.content.snapshot.Content.languages`."""

from __future__ import annotations

from typing import Final, Literal, get_args

Language = Literal["fi", "sv", "en"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
