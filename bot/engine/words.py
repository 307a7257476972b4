"""What a person typed, compared the forgiving way: button labels and trigger words.

People type a button's label as they read it ("kasvokkain", "  Valmis "), without its emoji
("Takaisin" for "↩ Takaisin"), and name what they want inside a sentence in any inflection
("haluan puhua ihmisen kanssa"). The words come from the content (``keywords.*`` in
``content/texts``); this module only compares.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: a word: letters and digits (any script), inner apostrophes and hyphens kept ("o'clock")
_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")


def normalise(text: str) -> str:
    """``text`` for comparing: case folded, emoji, symbols and punctuation dropped, spaces
    collapsed ("  ↩ Takaisin! " → "takaisin", "Kyllä, sopii ✅" → "kyllä sopii")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = []
    for char in folded:
        category = unicodedata.category(char)
        if category[0] in "LN":
            kept.append(char)
        elif category[0] == "M":  # combining marks: keep accents, drop emoji modifiers
            if not ("\ufe00" <= char <= "\ufe0f" or char == "\u20e3"):
                kept.append(char)
        else:
            kept.append(" ")
    return " ".join("".join(kept).split())


def words(text: str) -> list[str]:
    """The words of ``text``, case folded."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


@dataclass(frozen=True, slots=True)
class WordList:
    """Words to look for in a sentence: whole words, and stems (written ``stem*``) that match
    any word beginning with them ("ihmi*" matches "ihminen", "ihmisen", "ihmisiä")."""

    exact: frozenset[str] = frozenset()
    stems: tuple[str, ...] = ()

    @staticmethod
    def parse(raw: str) -> WordList:
        """From the content's comma-separated form: ``"ihmi*, valmentaj*, person"``."""
        exact: set[str] = set()
        stems: set[str] = set()
        for item in raw.split(","):
            word = item.strip().casefold()
            if word.endswith("*") and word.rstrip("*"):
                stems.add(word.rstrip("*"))
            elif word and not word.endswith("*"):
                exact.add(word)
        return WordList(frozenset(exact), tuple(sorted(stems)))

    def __or__(self, other: WordList) -> WordList:
        return WordList(self.exact | other.exact, tuple(sorted({*self.stems, *other.stems})))

    def __bool__(self) -> bool:
        return bool(self.exact or self.stems)

    def found_in(self, text: str) -> bool:
        """Whether any word of ``text`` is one of the words or begins with one of the stems."""
        return any(word in self.exact or word.startswith(self.stems) for word in words(text))
