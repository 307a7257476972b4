"""Where a person's "not for me" choices are kept. With consent, in ``event_dismissals``;
without it, only in the conversation state (``features["events"]["dismissed"]``) like the rest
of what such a person says: used during the conversation, never stored. When the person
consents, :func:`keep` moves them to the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from bot.engine.state import ConversationState
from db.repositories import EventRepository

#: the key of the browser's data in ``ConversationState.features``
FEATURE: Final = "events"
_DISMISSED: Final = "dismissed"


def _feature(state: ConversationState | None) -> dict[str, Any] | None:
    feature = state.features.get(FEATURE) if state is not None else None
    return feature if isinstance(feature, dict) else None


def in_conversation(state: ConversationState | None) -> dict[str, str]:
    """The choices kept in the conversation only (item id → reason)."""
    feature = _feature(state)
    local = feature.get(_DISMISSED) if feature is not None else None
    return {str(k): str(v) for k, v in local.items()} if isinstance(local, dict) else {}


async def dismissed(
    repo: EventRepository, person_id: int, *, consent: bool, state: ConversationState | None
) -> dict[str, str]:
    """Every choice of the person: stored ones (with consent) and this conversation's."""
    found = await repo.dismissed(person_id) if consent else {}
    found.update(in_conversation(state))
    return found


async def dismiss(
    repo: EventRepository,
    person_id: int,
    item_id: str,
    reason: str,
    *,
    consent: bool,
    state: ConversationState | None,
    now: datetime,
) -> None:
    if consent:
        await repo.dismiss(person_id, item_id, reason, now=now)
    elif state is not None:
        feature = _feature(state) or {}
        local = feature.get(_DISMISSED)
        feature[_DISMISSED] = {**(local if isinstance(local, dict) else {}), item_id: reason}
        state.features[FEATURE] = feature


async def keep(
    repo: EventRepository, person_id: int, state: ConversationState | None, *, now: datetime
) -> None:
    """The person consented: the choices they made in this conversation are stored."""
    for item_id, reason in in_conversation(state).items():
        await repo.dismiss(person_id, item_id, reason, now=now)
    feature = _feature(state)
    if feature is not None:
        feature.pop(_DISMISSED, None)
