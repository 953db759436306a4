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
    pool_size: int = Field(10, ge=1)  # PostgreSQL connections this process may hold, all uses together
    max_body_bytes: int = Field(1_048_576, ge=1024)  # larger request bodies are refused while read (413)
    body_timeout_seconds: float = Field(30.0, gt=0)  # a body must arrive within this (408)
    header_timeout_seconds: float = Field(10.0, gt=0)  # a connection must send a request's headers within this
    position_wait_seconds: float = Field(5.0, gt=0, le=60)  # how long a min_position read waits
    max_position_waiters: int = Field(64, ge=0)  # concurrent min_position waits per process; past it 503
    idempotency_ttl_hours: float = Field(24.0, gt=0)  # how long an Idempotency-Key's reply is kept

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
