"""Typed settings for the web app, read from ``EW_*`` environment variables.

One place validates configuration. Outside demo mode a missing, short or
placeholder secret key is refused with an error naming the variable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

__all__ = ["Settings", "SettingsError", "load_settings", "PLACEHOLDER_SECRETS", "ENV_PREFIX"]

ENV_PREFIX = "EW_"
PLACEHOLDER_SECRETS = frozenset({"changethis", "changeme", "secret", "password", "dev", "test"})
MIN_SECRET_LENGTH = 32

ERR_PLACEHOLDER_SECRET = (
    "EW_SECRET_KEY is {problem}: set it to a random value of at least "
    f"{MIN_SECRET_LENGTH} characters (python -c 'import secrets; print(secrets.token_urlsafe())'),"
    " or set EW_DEMO_MODE=1 for a local demo"
)


class SettingsError(ValueError):
    """The app's configuration is invalid; the message names the variable."""


class Settings(BaseModel):
    """Configuration of the web app.

    Every field can be set with an environment variable ``EW_<FIELD>`` (upper
    case), e.g. ``EW_DATABASE_URL=postgresql+psycopg://user@host/earlywarning``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    demo_mode: bool = False
    secret_key: str = ""
    database_url: str = "sqlite:///data/app.db"
    warehouse_path: Path = Path("data/warehouse.duckdb")
    runs_dir: Path = Path("runs")
    council_name: str = "Anytown Borough Council"
    council_logo_path: Path | None = None
    """An SVG or PNG file of the council's logo, shown in the header (alt text: the name)."""
    service_name: str = "Early Help early warning"
    mlflow_ui_url: str = "http://127.0.0.1:5000"
    capacity: int | None = Field(default=None, ge=1)
    horizon_months: int = Field(default=12, ge=1)
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    session_idle_seconds: int = Field(default=30 * 60, ge=60)
    cookie_secure: bool | None = None
    """``None``: Secure cookies unless the request host is localhost."""
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    page_size: int = Field(default=25, ge=1, le=200)

    @field_validator("council_logo_path")
    @classmethod
    def _logo_exists(cls, v: Path | None) -> Path | None:
        if v is not None and (not v.is_file() or v.suffix.lower() not in (".svg", ".png")):
            raise ValueError(f"EW_COUNCIL_LOGO_PATH = {str(v)!r}: give an existing .svg or .png "
                             "file")
        return v

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, v: str) -> str:
        if not v.startswith(("sqlite:", "postgresql")):
            raise ValueError(
                f"EW_DATABASE_URL = {v!r}: use a sqlite:/// or postgresql+psycopg:// URL"
            )
        return v

    @model_validator(mode="after")
    def _real_secret(self) -> Settings:
        key = self.secret_key
        if self.demo_mode:
            return self
        if not key:
            raise ValueError(ERR_PLACEHOLDER_SECRET.format(problem="not set"))
        if key.lower() in PLACEHOLDER_SECRETS:
            raise ValueError(ERR_PLACEHOLDER_SECRET.format(problem=f"a placeholder ({key!r})"))
        if len(key) < MIN_SECRET_LENGTH:
            raise ValueError(ERR_PLACEHOLDER_SECRET.format(problem="too short"))
        return self

    @property
    def effective_secret_key(self) -> str:
        """The signing key; demo mode without a key gets a random one per process."""
        return self.secret_key or _DEMO_KEY

    @property
    def is_sqlite(self) -> bool:
        """Whether the app database is SQLite."""
        return self.database_url.startswith("sqlite")


_DEMO_KEY = secrets.token_urlsafe(48)


def load_settings(environ: dict[str, str] | None = None, **overrides: object) -> Settings:
    """Build :class:`Settings` from ``EW_*`` variables, then ``overrides``.

    Parameters
    ----------
    environ : dict, optional
        The environment to read (default ``os.environ``).
    **overrides
        Field values that win over the environment (used by the CLI and tests).

    Returns
    -------
    Settings

    Raises
    ------
    SettingsError
        If a value is invalid; the message names the ``EW_*`` variable.
    """
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for name in Settings.model_fields:
        var = ENV_PREFIX + name.upper()
        if var in env and env[var] != "":
            values[name] = env[var]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        msgs = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            where = f"{ENV_PREFIX}{loc.upper()}: " if loc else ""
            msgs.append(f"{where}{err['msg'].removeprefix('Value error, ')}")
        raise SettingsError("; ".join(msgs)) from exc
