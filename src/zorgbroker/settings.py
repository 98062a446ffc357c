"""Every setting of an installation, from environment variables (documented in the README)."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

#: The PostgreSQL driver zorgbroker ships and its bulk import speaks (psycopg 3's COPY).
POSTGRES_SCHEME = "postgresql+psycopg"
_DATABASE_EXAMPLE = "bijvoorbeeld postgresql+psycopg://gebruiker@server/database"


def default_home() -> Path:
    """The per-user data folder: $XDG_DATA_HOME/zorgbroker or ~/.local/share/zorgbroker."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "zorgbroker"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ZORGBROKER_", extra="ignore")

    #: Everything an embedded installation writes lives below this folder.
    home: Path = Field(default_factory=default_home)
    #: The registry's database; SQLite under `home` when unset.
    database_url: str | None = None
    #: Who acts, for the upload history and the NEN 7513 access log; the login name when unset.
    user: str | None = None
    #: Rows per statement or COPY chunk when the registry imports accepted records.
    import_batch_rows: int = Field(default=100_000, ge=1)

    # --- background processing (zorgbroker.jobs) ---
    #: "inline": an upload is processed in the process that submits it (embedded default);
    #: "procrastinate": it becomes a job for `zorgbroker worker` (needs PostgreSQL).
    jobs: Literal["inline", "procrastinate"] = "inline"
    #: A worker that has not signalled life for this long is taken for dead, and its job is
    #: handed to another worker. Workers signal every third of it.
    worker_stalled_seconds: float = Field(default=30.0, gt=0)

    # --- e-mail when an upload finishes (zorgbroker.mail) ---
    #: Send a notification when an upload is done or failed.
    mail_enabled: bool = True
    #: Sender address of the notifications.
    mail_from: str = "zorgbroker@localhost"
    #: Fallback recipients (comma-separated) when neither the uploader nor the organisation
    #: has an address.
    mail_to: str | None = None
    #: Recipients per organisation, as JSON: {"01234567": "kwaliteit@example.nl"}.
    mail_to_organisations: dict[str, str] = Field(default_factory=dict)
    #: How often a worker retries mail that could not be sent.
    mail_retry_seconds: float = Field(default=300.0, gt=0)
    #: A larger Excel report is not attached; the mail says how to fetch it.
    mail_attachment_max_bytes: int = Field(default=10_000_000, ge=0)
    #: The SMTP server; without it, mail goes to the local mailbox folder under `home`.
    smtp_host: str | None = None
    #: Default: 465 with "ssl", 587 with "starttls", 25 with "none".
    smtp_port: int | None = None
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)

    # --- the portal (zorgbroker.accounts, zorgbroker.portal) ---
    #: The portal's public address (https://portaal.example.nl): links in mails, the origin
    #: that requests must come from, the passkeys' relying party. `zorgbroker serve` needs it.
    portal_url: str | None = None
    #: The Fernet key that encrypts TOTP secrets at rest (`Fernet.generate_key()`). Unset, an
    #: embedded installation makes one on first use in `home/accounts-secret.key` (mode 0600);
    #: a production installation sets it from its secrets store, apart from the database.
    accounts_secret_key: SecretStr | None = None

    # --- patient access through MedMij (zorgbroker.fhir) ---
    #: How long an access token of the authorisation server is valid.
    medmij_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    #: This practice's name on the Zorgaanbiederslijst, without @medmij (the scope's first part).
    medmij_provider: str = "praktijk"
    #: The folder with MedMij's lists (zal.xml, ocl.xml, gnl.xml); the shipped demo lists when
    #: unset.
    medmij_lists_dir: Path | None = None

    # --- the TTP (zorgbroker.pseudonymisation) ---
    #: The TTP service (`zorgbroker ttp serve`) that upload processing relays stage-1
    #: pseudonyms to; unset, the embedded TTP under `home/ttp` answers in process.
    ttp_url: str | None = None
    #: The token `zorgbroker ttp source-add` issued, sent with every request to `ttp_url`.
    ttp_token: SecretStr | None = None

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str | None) -> str | None:
        """PostgreSQL through psycopg, or SQLite; the libpq forms people copy are accepted."""
        if url is None or not url.strip():
            return None
        scheme, separator, rest = url.strip().partition("://")
        if not separator or not scheme:
            raise ValueError(f"is geen database-adres ({_DATABASE_EXAMPLE})")
        dialect, _, driver = scheme.lower().partition("+")
        if dialect in ("postgresql", "postgres") and driver in ("", "psycopg"):
            return f"{POSTGRES_SCHEME}://{rest}"
        if dialect == "sqlite" and driver in ("", "pysqlite"):
            return url.strip()
        if dialect in ("postgresql", "postgres"):
            raise ValueError(f"gebruik het stuurprogramma psycopg ({_DATABASE_EXAMPLE})")
        raise ValueError(f"zorgbroker werkt met PostgreSQL of SQLite, niet met '{dialect}'")

    @field_validator("portal_url")
    @classmethod
    def _portal_address(cls, url: str | None) -> str | None:
        """An origin: scheme and host (and port), nothing after them but an optional slash."""
        if url is None or not url.strip():
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(url.strip())
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError("is geen webadres (bijvoorbeeld https://portaal.example.nl)")
        if parts.path.strip("/") or parts.query or parts.fragment:
            raise ValueError("is het adres van het portaal zelf, zonder pad (https://host)")
        return f"{parts.scheme}://{parts.netloc}"

    @field_validator("accounts_secret_key")
    @classmethod
    def _fernet_key(cls, key: SecretStr | None) -> SecretStr | None:
        """32 bytes in URL-safe base64, as `Fernet.generate_key()` makes them."""
        if key is None or not key.get_secret_value().strip():
            return None
        import base64
        import binascii

        value = key.get_secret_value().strip()
        try:
            valid = len(base64.urlsafe_b64decode(value.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ValueError(
                "is geen Fernet-sleutel (32 bytes in URL-veilige base64, zoals "
                "Fernet.generate_key() ze maakt)"
            )
        return SecretStr(value)

    @property
    def registry_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'registry.sqlite3'}"

    @property
    def accounts_key_file(self) -> Path:
        """Where an embedded installation keeps its generated accounts key."""
        return self.home / "accounts-secret.key"

    @property
    def mailbox_dir(self) -> Path:
        """The embedded mailbox: every notification as an .eml file (when no SMTP server is set)."""
        return self.home / "mailbox"

    @property
    def outbox_dir(self) -> Path:
        """Notifications the SMTP server did not take yet; retried later."""
        return self.home / "mail" / "outbox"

    @property
    def uploads_dir(self) -> Path:
        """Uploaded files wait here while they are processed, and are removed afterwards."""
        return self.home / "uploads"

    @property
    def actor(self) -> str:
        if self.user:
            return self.user
        import getpass

        try:
            return getpass.getuser()
        except (KeyError, OSError):  # no login name, e.g. in a container without a passwd entry
            return "onbekend"


class InvalidSettings(ValueError):
    """Settings in the environment that cannot be used; the message is Dutch, for the user."""


@cache
def _cached() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings(describe_invalid(exc)) from None
    except SettingsError as exc:
        # pydantic-settings could not decode a structured value (JSON) before validating it.
        field = re.search(r'field "(\w+)"', str(exc))
        name = _variable((field.group(1),)) if field else "ZORGBROKER_..."
        raise InvalidSettings(f"Fout: instelling {name}: geen geldige JSON.") from None


def get_settings(*, fresh: bool = False) -> Settings:
    """The settings; `fresh=True` re-reads the environment (tests change it between runs)."""
    if fresh:
        _cached.cache_clear()
    return _cached()


def _variable(location: tuple[int | str, ...]) -> str:
    return "ZORGBROKER_" + "_".join(str(part) for part in location).upper()


def _reason(error: dict[str, object]) -> str:
    kind = error.get("type")
    context = error.get("ctx")
    ctx = context if isinstance(context, dict) else {}
    match kind:
        case "value_error":
            return str(ctx.get("error", error.get("msg")))
        case "literal_error" | "enum":
            return f"moet {str(ctx.get('expected')).replace(' or ', ' of ')} zijn"
        case "greater_than":
            return f"moet groter zijn dan {ctx.get('gt')}"
        case "greater_than_equal":
            return f"moet minstens {ctx.get('ge')} zijn"
        case "int_parsing" | "int_from_float":
            return "moet een geheel getal zijn"
        case "float_parsing":
            return "moet een getal zijn"
        case "bool_parsing":
            return "moet true of false zijn"
    return str(error.get("msg"))


def describe_invalid(exc: ValidationError) -> str:
    """The settings a user got wrong, in Dutch, one line each, naming the environment variable.

    A setting's value is not repeated: a database address or password may be among them."""
    return "\n".join(
        f"Fout: instelling {_variable(error['loc'])}: {_reason(dict(error))}."
        for error in exc.errors()
    )
