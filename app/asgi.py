"""create_app(): the Litestar application factory."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.plugins.flash import FlashConfig, FlashPlugin
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.stores.redis import RedisStore
from litestar.template.base import csrf_token
from litestar.template.config import TemplateConfig
from markupsafe import Markup
from redis.asyncio import Redis

from app import cache, db, queue
from app.controllers import (
    admin,
    analytics,
    attendance,
    auth,
    catalogue,
    certificates,
    cohorts,
    convocations,
    establishments,
    exports,
    health,
    home,
    imports,
    progress,
    learner,
    my_data,
    ops,
    registration,
    registration_admin,
    sessions,
    signed_sheets,
    signing,
    surveys,
    trainers,
    users,
)
from app.controllers import accessibility, bpf
from app.controllers import indicators, retention, survey_results
from app.http.security import FormFieldLimitMiddleware, add_security_headers
from app.http.static import static_file, static_url
from app.http.web import EXCEPTION_HANDLERS, CurrentUserMiddleware, access_guard
from app.http.sessions import SessionConfig
from app.jobs.worker import build_worker
from app.pdf import bounded
from app.http.templating import jinja_env
from app.settings import get_settings

log = logging.getLogger(__name__)

# Forms are small: a cap on the body keeps a forged million-field post from tying up a worker.
# Upload routes (the CSV import) set their own, larger limit. The number of fields is capped too:
# multipart parts here, url-encoded fields by FormFieldLimitMiddleware (app/http/security.py).
FORM_MAX_BYTES = 512 * 1024
MULTIPART_MAX_PARTS = 200


def _current_user(context):
    return context["request"].scope.get("user")


def _csrf_field(context) -> Markup:
    return Markup('<input type="hidden" name="_csrf_token" value="{}">').format(csrf_token(context))


def _lifespan(run_worker: bool):
    """The app's lifespan: the database pool and Redis, and the embedded worker when asked for."""

    @asynccontextmanager
    async def lifespan(app: Litestar):
        app.state.redis = await queue.connect()
        try:
            await queue.refuse_eviction(app.state.redis)  # before anything is started on it
        except queue.EvictingRedis:
            await app.state.redis.aclose()
            raise
        app.state.cache = await cache.connect(app.state.redis)
        owns_pool = await db.open_pool()
        worker_task = worker = None
        if run_worker:
            worker = build_worker()
            worker_task = asyncio.create_task(worker.async_run())
        try:
            yield
        finally:
            if worker is not None:
                await worker.close()
                worker_task.cancel()

            bounded.close()  # a PDF render still running is killed, not waited for
            await cache.close(app.state.cache, app.state.redis)
            await app.state.redis.aclose()
            if owns_pool:
                await db.close_pool()

    return lifespan


def _template_config() -> TemplateConfig:
    """Pages' templates: the Jinja environment (app/http/templating.py) with static_url, the current
    user and the CSRF field."""
    environment = jinja_env()
    environment.globals["static_url"] = static_url
    engine = JinjaTemplateEngine.from_environment(environment)
    template_config = TemplateConfig(instance=engine)
    engine.register_template_callable("current_user", _current_user)
    engine.register_template_callable("csrf_field", _csrf_field)
    return template_config


def _session_config(settings) -> SessionConfig:
    return SessionConfig(
        key="session",
        max_age=settings.security.session_max_age,
        secure=settings.security.cookie_secure,
        samesite="lax",
        renew_on_access=True,
        exclude=["^/static/", "^/healthz"],
    )


def _csrf_config(settings) -> CSRFConfig:
    return CSRFConfig(
        secret=settings.security.secret_key,
        cookie_name="csrftoken",
        header_name="x-csrftoken",
        cookie_secure=settings.security.cookie_secure,
        cookie_samesite="lax",
        exclude=["^/static/", "^/healthz"],
    )


ROUTE_HANDLERS = [
    *auth.HANDLERS,
    *accessibility.HANDLERS,
    *home.HANDLERS,
    *analytics.HANDLERS,
    *admin.HANDLERS,
    *retention.HANDLERS,
    *establishments.HANDLERS,
    *exports.HANDLERS,
    *users.HANDLERS,
    *imports.HANDLERS,
    *catalogue.HANDLERS,
    *sessions.HANDLERS,
    *progress.HANDLERS,
    *learner.HANDLERS,
    *my_data.HANDLERS,
    *cohorts.HANDLERS,
    *certificates.HANDLERS,
    *convocations.HANDLERS,
    *attendance.HANDLERS,
    *signed_sheets.HANDLERS,
    *signing.HANDLERS,
    *trainers.HANDLERS,
    *registration_admin.HANDLERS,
    *registration.HANDLERS,
    *ops.HANDLERS,
    *health.HANDLERS,
    *bpf.HANDLERS,
    *surveys.HANDLERS,
    *survey_results.HANDLERS,
    *indicators.HANDLERS,
    static_file,
]


def create_app(run_worker: bool = False) -> Litestar:
    settings = get_settings()
    session_config = _session_config(settings)
    template_config = _template_config()
    sessions_store = RedisStore(redis=Redis.from_url(queue.redis_url(), **queue.timeouts()),
                                namespace="tremplin:sessions")

    return Litestar(
        route_handlers=ROUTE_HANDLERS,
        lifespan=[_lifespan(run_worker)],
        middleware=[FormFieldLimitMiddleware, session_config.middleware, CurrentUserMiddleware],
        before_send=[add_security_headers],
        csrf_config=_csrf_config(settings),
        guards=[access_guard],
        template_config=template_config,
        plugins=[HTMXPlugin(), FlashPlugin(FlashConfig(template_config=template_config))],
        stores={"sessions": sessions_store},
        exception_handlers=EXCEPTION_HANDLERS,
        compression_config=CompressionConfig(backend="brotli", brotli_gzip_fallback=True, minimum_size=1024,
                                             exclude_opt_key="no_compression",
                                             brotli_quality=4),
        request_max_body_size=FORM_MAX_BYTES,
        multipart_form_part_limit=MULTIPART_MAX_PARTS,
        debug=False,
        openapi_config=None,
    )
