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
    audit_key: SecretStr | None = None  # Ed25519 private key (PEM or base64): signs checkpoints; never in the DB
    audit_key_file: Path | None = None  # the same, read from a file
    audit_public_key_file: Path | None = None  # verifies checkpoints (derived from the private key when unset)
    audit_checkpoint_events: int = Field(1000, ge=1)  # a checkpoint at least every so many events ...
    audit_checkpoint_seconds: int = Field(300, ge=1)  # ... and every so many seconds of activity
    audit_witness_file: Path | None = None  # a signer's memory of its newest checkpoint, across restarts
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
    # auto: a process whose PostgreSQL role owns the schema creates and updates tables at start (SQLite
    # always does); a role that does not (the API role of `linli db roles`) starts without DDL. off:
    # never, whoever it is; the owner runs `linli db migrate` (docs/operations.md).
    migrate: Literal["auto", "off"] = "auto"

    @field_validator("admin_token")
    @classmethod
    def _strong_enough(cls, token: SecretStr | None) -> SecretStr | None:
        if token is not None and len(token.get_secret_value()) < 16:
            raise ValueError("LINLI_ADMIN_TOKEN must be at least 16 characters")
        return token

    @field_validator("audit_key_file", "audit_public_key_file", "audit_witness_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, path):
        return path or None

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, url: str | None) -> str | None:
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("LINLI_DATABASE_URL must be a postgresql:// URL (leave it unset for SQLite)")
        return url or None

    def audit_keys(self):
        """The signing key (if this process signs), the public key and the cadence (projections.signing)."""
        from projections.signing import AuditKeys, Cadence, load_private, load_public

        if self.audit_key and self.audit_key_file:
            raise ValueError("set LINLI_AUDIT_KEY or LINLI_AUDIT_KEY_FILE, not both")
        private = None
        if self.audit_key:
            private = load_private(self.audit_key.get_secret_value())
        elif self.audit_key_file:
            private = load_private(self.audit_key_file.read_bytes())
        public = load_public(self.audit_public_key_file.read_bytes()) if self.audit_public_key_file else None
        if private is not None and public is None:
            public = private.public_key()
        return AuditKeys(private, public, Cadence(self.audit_checkpoint_events, self.audit_checkpoint_seconds),
                         self.audit_witness_file)

    @property
    def postgres(self) -> bool:
        return self.database_url is not None
