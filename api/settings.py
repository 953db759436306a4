"""Typed settings from LINLI_* environment variables."""
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LINLI_")

    database_url: str | None = None  # unset: SQLite files under data_dir; postgresql://… : PostgreSQL
    database_schema: str = "public"
    data_dir: Path = Path("var")
    admin_token: SecretStr | None = None  # bootstrap admin bearer token
    audit_key: SecretStr | None = None  # signs audit checkpoints; never stored in the database
    grace_minutes: int = Field(15, ge=0, le=1440)  # bounded, so start + grace stays inside the datetime window
    projections: Literal["inline", "worker"] = "inline"
    timer_interval_seconds: float = 30.0
    pool_size: int = 5

    @field_validator("admin_token")
    @classmethod
    def _strong_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < 16:
            raise ValueError("LINLI_ADMIN_TOKEN must be at least 16 characters")
        return token

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, url: str | None) -> str | None:
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("LINLI_DATABASE_URL must be a postgresql:// URL (leave it unset for SQLite)")
        return url or None

    @property
    def postgres(self) -> bool:
        return self.database_url is not None
