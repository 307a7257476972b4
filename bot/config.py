"""Settings from the environment and an optional ``.env`` file.

A bad value must give the operator one clear line — which variable, what is expected — and
exit code 2, never a traceback (see :func:`load_settings`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_API_URL = "https://api.telegram.org"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/urapolku.sqlite3"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    bot_token: SecretStr | None = Field(default=None, description="the token from @BotFather")
    telegram_api_url: str = Field(default=DEFAULT_API_URL, description="an http(s) URL")
    database_url: str = Field(default=DEFAULT_DATABASE_URL, description="an SQLAlchemy URL")
    redis_url: str | None = Field(default=None, description="a redis:// URL")
    #: PostgreSQL connections each process keeps open (up to 3× under load)
    database_pool_size: int = Field(default=10, ge=1, le=100, description="a number from 1 to 100")
    coach_chat_id: int | None = Field(default=None, description="a Telegram chat id (a number)")
    admin_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Telegram user ids separated by commas"
    )
    dialogs_dir: Path = Field(default=Path("dialogs"), description="a folder")
    content_dir: Path = Field(default=Path("content"), description="a folder")
    default_language: Literal["fi", "sv", "en"] = Field(default="fi", description="fi, sv or en")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="DEBUG, INFO, WARNING or ERROR"
    )
    log_format: Literal["text", "json"] = Field(default="text", description="text or json")
    #: keys that encrypt what people write, comma-separated, newest first (docs/SECURITY.md)
    data_key: SecretStr | None = Field(
        default=None, description="keys from `urapolku rekey --new-key`, separated by commas"
    )
    #: production refuses to start without DATA_KEY; unset: production when BOT_TOKEN is set
    environment: Literal["production", "development"] | None = Field(
        default=None, description="production or development"
    )
    webhook_url: str | None = Field(
        default=None, description="the public https URL Telegram posts to"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="1-256 characters A-Z, a-z, 0-9, _ and -"
    )
    webhook_host: str = Field(default="127.0.0.1", description="an address to listen on")
    webhook_port: int = Field(default=8080, ge=1, le=65535, description="a port number")
    webhook_path: str = Field(default="/telegram", description="a URL path starting with /")
    #: polling mode: /healthz and /metrics on HEALTH_HOST:HEALTH_PORT (unset: no HTTP server;
    #: webhook mode serves both on WEBHOOK_PORT)
    health_host: str = Field(default="127.0.0.1", description="an address to listen on")
    health_port: int | None = Field(
        default=None, ge=1, le=65535, description="a port number (unset: none)"
    )
    #: --workers N: a worker that has not shown life for this long is killed and replaced
    worker_timeout: int = Field(
        default=30, ge=2, le=3600, description="a whole number of seconds from 2 to 3600"
    )
    outgoing_per_second: float = Field(
        default=28.0, ge=0, le=1000, description="messages per second overall (0 = no limit)"
    )
    #: messages that may go at once beyond the steady rate; rate + burst ≤ Telegram's ~30/s
    outgoing_burst: float = Field(
        default=1.0, ge=1, le=1000, description="a number ≥ 1 (messages at once overall)"
    )
    flood_limit: int = Field(
        default=5, ge=1, description="messages a person may send in 2 seconds before 'slow down'"
    )
    #: version of the consent text; raising it asks everyone again
    consent_version: int = Field(default=2, ge=1, description="a whole number ≥ 1")
    #: people not seen for this many days are removed (urapolku purge, the daily job)
    retention_days: int = Field(default=365, ge=1, description="a whole number of days ≥ 1")
    #: the relayed texts of requests closed this many days ago are removed
    relay_retention_days: int = Field(default=90, ge=1, description="a whole number of days ≥ 1")
    #: follow-up rounds: days after an attended event or a closed request
    followup_days: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [14, 90],
        description="days separated by commas, e.g. 14,90 (empty: no follow-ups)",
    )

    @field_validator("telegram_api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        import re

        if not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("must be 1-256 characters A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with /")
        return value

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.replace(";", ",").split(",")]
            try:
                return [int(p) for p in parts if p]
            except ValueError:
                raise ValueError("must be numbers separated by commas") from None
        if isinstance(value, int):
            return [value]
        return value

    @field_validator("followup_days", mode="before")
    @classmethod
    def _days(cls, value: object) -> object:
        if isinstance(value, int):
            value = [value]
        if isinstance(value, str):
            try:
                value = [int(p) for p in value.replace(";", ",").split(",") if p.strip()]
            except ValueError:
                raise ValueError("must be whole numbers of days separated by commas") from None
        if isinstance(value, list) and any(not isinstance(d, int) or d < 1 for d in value):
            raise ValueError("every number of days must be at least 1")
        return sorted(set(value)) if isinstance(value, list) else value

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        token = value.get_secret_value().strip()
        head, _, tail = token.partition(":")
        if not head.isdigit() or len(tail) < 10:
            raise ValueError("does not look like a token from @BotFather (123456:ABC…)")
        return SecretStr(token)

    @field_validator("default_language", "log_level", "log_format", mode="before")
    @classmethod
    def _normalise_case(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("environment", mode="before")
    @classmethod
    def _environment(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.strip().lower()
            return {"prod": "production", "dev": "development", "": None}.get(value, value)
        return value

    @field_validator("data_key")
    @classmethod
    def _data_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        from db.types import DataKeyError, Keyring

        try:
            Keyring.parse(value.get_secret_value())
        except DataKeyError as exc:
            raise ValueError(str(exc).removeprefix("DATA_KEY ")) from None
        return value

    def secrets(self) -> list[str]:
        """Values that must never reach a log (the logging setup masks them)."""
        found = [s.get_secret_value() for s in (self.bot_token, self.webhook_secret) if s]
        if self.data_key is not None:
            found += [k.strip() for k in self.data_key.get_secret_value().split(",") if k.strip()]
        return found

    @property
    def is_production(self) -> bool:
        """Real people's data: ENVIRONMENT=production, or (ENVIRONMENT unset) a BOT_TOKEN."""
        if self.environment is not None:
            return self.environment == "production"
        return self.bot_token is not None

    @property
    def texts_dir(self) -> Path:
        return self.content_dir / "texts"

    @property
    def catalogue_dir(self) -> Path:
        return self.content_dir / "catalogue"

    def token(self) -> str:
        """The bot token; only the process that talks to Telegram asks for it."""
        if self.bot_token is None:
            raise RuntimeError("BOT_TOKEN is not set")
        return self.bot_token.get_secret_value()


class ConfigError(Exception):
    """One line per bad variable, ready to print."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            name = str(error["loc"][0]).upper() if error["loc"] else "configuration"
            field = Settings.model_fields.get(name.lower())
            expected = field.description if field and field.description else ""
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] in {"literal_error", "int_parsing", "int_type"} and expected:
                message = f"expected {expected}"
            line = f"{name}: {message}"
            if expected and expected not in line:
                line += f" (expected {expected})"
            lines.append(line)
        raise ConfigError("\n".join(lines)) from None
