"""Implementations of the actions dialogs can call. :func:`build_registry` lists them all."""

from __future__ import annotations

from bot.engine.actions import ActionRegistry

from . import basic


def build_registry() -> ActionRegistry:
    registry = ActionRegistry()
    basic.register(registry)
    return registry
