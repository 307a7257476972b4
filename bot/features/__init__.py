"""The features, assembled: :func:`build_registry` lists the actions dialogs can call and
:func:`content_sections` the features' own content files. The factory and ``urapolku check``
pass both to the content loader; a new feature adds its entries here."""

from __future__ import annotations

from typing import Any

from bot.content.section import ContentSection
from bot.engine.actions import ActionRegistry
from bot.features.consent import actions as consent
from bot.features.events import actions as events
from bot.features.followup import actions as followup
from bot.features.handoff import actions as handoff
from bot.features.handoff.section import HANDOFF
from bot.features.privacy import actions as privacy
from bot.features.privacy.notice import PRIVACY


def build_registry() -> ActionRegistry:
    registry = ActionRegistry()
    consent.register(registry)
    handoff.register(registry)
    events.register(registry)
    followup.register(registry)
    privacy.register(registry)
    return registry


def content_sections() -> tuple[ContentSection[Any], ...]:
    """Every feature's content section, in the order their problems are reported."""
    return (HANDOFF, PRIVACY)
