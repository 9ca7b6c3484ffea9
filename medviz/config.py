"""One configuration for the dashboard and the command line: a settings file plus environment variables.

Both ``streamlit run app.py`` and ``python -m medviz …`` read :func:`settings`, so they always use the same
database, keys and data folder. Sources, highest priority first:

1. environment variables ``MEDVIZ_<NAME>`` (e.g. ``MEDVIZ_DATABASE_URL``, ``MEDVIZ_IDLE_MINUTES``);
2. the settings file: ``$MEDVIZ_CONFIG`` if set, else ``medviz.toml`` in the data folder
   (``$MEDVIZ_DATA_DIR``, default ``data/`` in the checkout) — TOML, one ``name = value`` per setting,
   relative paths taken from the file's folder;
3. the defaults below.

Parsing and validation are pydantic-settings 2 (``BaseSettings``); the file is read with ``tomllib``.
A bad value raises :class:`ConfigError` naming the setting and where it came from — never its value,
which may be a key.

Secrets (the Fernet key, the audit HMAC key) are never in the database: each comes from its environment
variable, else from a file (``*_key_file``; a mounted secret works), else from a file generated on first
start in the data folder with owner-only permissions (0600) — see :func:`load_or_create_secret`.
"""
from __future__ import annotations

import os
import secrets
import stat
import threading
import tomllib
from pathlib import Path
from typing import Any, Callable

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from medviz.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
ENV_PREFIX = "MEDVIZ_"
CONFIG_ENV = "MEDVIZ_CONFIG"
CONFIG_FILE_NAME = "medviz.toml"


class ConfigError(InputError):
    """A setting is malformed, or a key file cannot be read or created safely."""


class Settings(BaseSettings):
    """Every operator setting. Paths left empty are derived from ``data_dir`` (see the properties)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    data_dir: Path = Field(ROOT / "data", description="folder for the SQLite file, keys and the audit head file")
    database_url: str = Field("", description="SQLAlchemy URL (e.g. postgresql+psycopg://user@host/db); empty = SQLite")
    db_path: Path | None = Field(None, description="SQLite file when database_url is empty (default data_dir/medviz.db)")
    models_dir: Path = Field(ROOT / "models", description="folder of model bundles")
    default_model: str = Field("differential-801", max_length=255,
                               description="bundle folder name preselected in the sidebar when present")
    idle_minutes: float = Field(15.0, gt=0, le=24 * 60, description="idle logoff after this many minutes")
    allow_bootstrap: bool = Field(True, description="first start may create a one-time admin from the browser")
    encryption: bool = Field(True, description="encrypt free text at rest (turning it off shows a banner)")
    encryption_key: SecretStr | None = Field(None, description="Fernet key(s), comma-separated: first encrypts")
    encryption_key_file: Path | None = Field(None, description="file holding the Fernet key(s) (default data_dir/encryption.key)")
    audit_key: SecretStr | None = Field(None, description="audit HMAC key (hex, >= 32 bytes)")
    audit_key_file: Path | None = Field(None, description="file holding the audit HMAC key (default data_dir/audit.key)")
    audit_head_file: Path | None = Field(None, description="append-only chain-head export (default data_dir/audit-head.log)")
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="absolute sign-in session lifetime in hours")
    session_secret: SecretStr | None = Field(None, description="session-cookie signing secret")
    session_key_file: Path | None = Field(None, description="file holding the cookie secret (default data_dir/session.key)")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The settings file arrives as init arguments; the environment must win over it.
        return env_settings, init_settings

    @property
    def sqlite_path(self) -> Path:
        return (self.db_path or self.data_dir / "medviz.db").expanduser()

    @property
    def encryption_key_path(self) -> Path:
        return (self.encryption_key_file or self.data_dir / "encryption.key").expanduser()

    @property
    def audit_key_path(self) -> Path:
        return (self.audit_key_file or self.data_dir / "audit.key").expanduser()

    @property
    def audit_head_path(self) -> Path:
        return (self.audit_head_file or self.data_dir / "audit-head.log").expanduser()


_PATH_FIELDS = ("data_dir", "db_path", "models_dir", "encryption_key_file", "audit_key_file", "audit_head_file",
                "session_key_file")


def config_file() -> Path:
    """The settings file that applies now (it need not exist)."""
    explicit = os.environ.get(CONFIG_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    data_dir = os.environ.get(ENV_PREFIX + "DATA_DIR", "").strip()
    return Path(data_dir).expanduser() / CONFIG_FILE_NAME if data_dir else ROOT / "data" / CONFIG_FILE_NAME


def _read_file(path: Path) -> dict[str, Any]:
    if not path.exists():
        if os.environ.get(CONFIG_ENV, "").strip():
            raise ConfigError(f"{CONFIG_ENV} names {path}, which does not exist")
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"settings file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"settings file {path} cannot be read: {exc.strerror}") from None
    data = data.get("medviz", data) if isinstance(data.get("medviz"), dict) else data
    for name in _PATH_FIELDS:  # relative paths in the file are relative to the file
        if isinstance(data.get(name), str) and data[name] and not Path(data[name]).expanduser().is_absolute():
            data[name] = str((path.parent / data[name]).resolve())
    return data


def _describe(exc: ValidationError, path: Path) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False):
        name = str(err["loc"][0]) if err["loc"] else "?"
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown setting '{name}' in {path} (known: {', '.join(Settings.model_fields)})")
        else:
            parts.append(f"setting '{name}' ({ENV_PREFIX}{name.upper()} or '{name}' in {path}): {err['msg']}")
    return "; ".join(parts)


_cache: dict[tuple, Settings] = {}
_cache_lock = threading.Lock()


def settings() -> Settings:
    """The settings now in force (re-read when a ``MEDVIZ_*`` variable or the settings file changes).

    Raises :class:`ConfigError` for a malformed file or value.
    """
    path = config_file()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = None
    env = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(ENV_PREFIX)))
    key = (str(path), mtime, env)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    try:
        value = Settings(**_read_file(path))
    except ValidationError as exc:
        raise ConfigError(_describe(exc, path)) from None
    with _cache_lock:
        if len(_cache) > 64:
            _cache.clear()
        _cache[key] = value
    return value


def describe_sources() -> str:
    """Where the settings come from, for the CLI's first line (no values)."""
    path = config_file()
    return f"settings file {path}" + ("" if path.exists() else " (absent)") + f" + {ENV_PREFIX}* environment variables"


# --- secrets kept outside the database -------------------------------------------------------------

def load_or_create_secret(
    path: Path, *, env_value: str | None, env_name: str, generate: Callable[[], str], what: str
) -> str:
    """A secret from its environment variable, else the file at ``path``, else a new one written there.

    The file is created with mode 0600 (folder 0700) by write-to-temporary + ``os.link``, so two
    processes starting together agree on one key and nobody ever reads a half-written file. An existing
    file readable by group or others is refused (like ssh does with private keys).
    Raises :class:`ConfigError` when the file cannot be read, is empty, or is too open.
    """
    if env_value:
        return env_value.strip()
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(generate() + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # atomic; fails if another process created it first
            except FileExistsError:
                pass
        finally:
            tmp.unlink(missing_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(
                f"{what} file {path} is readable by other users (mode {mode:o}); run chmod 600 {path}"
            )
        value = path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise ConfigError(f"{what} file {path} cannot be read ({exc.strerror}); set {env_name} instead") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{what} file {path} is not ASCII text") from None
    if not value:
        raise ConfigError(f"{what} file {path} is empty")
    return value
