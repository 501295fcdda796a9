"""One typed Settings object read from CIVDESK_* environment variables; refuses unsafe values."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from civdesk.core.errors import ConfigurationError

DEV_SECRET = "dev-insecure-secret-key-change-me-0000000000"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CIVDESK_", extra="ignore")

    database_url: str = Field(default_factory=lambda: f"sqlite:///{Path('var/civdesk.db').resolve()}")
    redis_url: str | None = None
    secret_key: str = DEV_SECRET
    environment: str = "development"
    # Where webhook URLs registered with the platforms point; empty = polling-only deployments.
    public_url: str = "http://127.0.0.1:8000"
    embedded_worker: bool = True
    access_token_ttl_seconds: int = 12 * 3600
    delivery_max_attempts: int = 8
    delivery_poll_seconds: float = 0.5
    files_dir: Path = Field(default_factory=lambda: Path("var/files").resolve())
    max_file_bytes: int = 20 * 1024 * 1024
    # An agent whose consoles have all been gone this long is set offline (a reload stays well within it).
    presence_grace_seconds: float = Field(default=60.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must start with sqlite:/// or postgresql://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _known_redis(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis:// or rediss://")
        return value or None

    @field_validator("secret_key")
    @classmethod
    def _long_secret(cls, value: str) -> str:
        if len(value) < 32:
            raise ValueError("must be at least 32 characters")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check_production_safety(self) -> None:
        """Outside development a guessable secret key would let anyone forge agent tokens."""
        if self.environment != "development" and self.secret_key == DEV_SECRET:
            raise ConfigurationError("CIVDESK_SECRET_KEY must be set outside development")


def load_settings() -> Settings:
    """Read the environment; turn pydantic's report into one clear line per bad variable."""
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"CIVDESK_{'_'.join(str(p) for p in err['loc']).upper()} {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid configuration: {problems}") from None
    settings.check_production_safety()
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
