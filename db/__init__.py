"""Persistence: models, engine and sessions, repositories, migrations. Knows nothing of Telegram."""

from .engine import Database, current_session

__all__ = ["Database", "current_session"]
