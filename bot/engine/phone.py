"""Phone numbers as people type them: Finnish ones in any usual form, and other countries'
numbers with their country code (international students, people who moved here).

Checked with the ``phonenumbers`` package (Google's libphonenumber data). A Finnish number
must be a *valid* one (a real number range); another country's number must be *possible*
(the right length for that country): the bot cannot keep up with every country's newest number
ranges, and refusing a real number costs the person more than a coach's call that fails.
"""

from __future__ import annotations

import re

import phonenumbers

#: the region a number without a country code belongs to
HOME_REGION = "FI"
#: what a typed phone number may hold: digits, one leading + and the usual separators
_TYPED = re.compile(r"^\+?[\d\s\-().]{5,24}$")


def normalise_phone(text: str) -> str | None:
    """The number in international form (E.164, "+358401234567"), or None if ``text`` is not
    a phone number we can call."""
    typed = text.strip()
    if not _TYPED.fullmatch(typed) or sum(c.isdigit() for c in typed) < 5:
        return None
    try:
        number = phonenumbers.parse(typed, HOME_REGION)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(number) == HOME_REGION or number.country_code == 358:
        ok = phonenumbers.is_valid_number(number)
    else:
        ok = phonenumbers.is_possible_number(number)
    if not ok:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
