"""The Jinja environment of pages and mails: app/jinja.py's French filters and the services' labels
(PDFs use app/jinja.py's alone)."""

from __future__ import annotations

from functools import lru_cache

from jinja2 import Environment

from app.jinja import base_env
from app.services.accounts import STATUS_LABELS
from app.services.assessments import ASSESSMENT_CHOICES
from app.services.catalogue import ACTIVITY_KINDS
from app.services.learner import COMPLETION_LABELS
from app.services.learning import min_attendance
from app.services.ops import kind_label
from app.services.roles import ROLE_LABELS

ACTIVITY_LABELS = dict(ACTIVITY_KINDS)


@lru_cache(maxsize=1)
def jinja_env() -> Environment:
    env = base_env()
    env.filters.update(
        role_label=lambda role: ROLE_LABELS.get(role, role),
        activity_kind=lambda kind: ACTIVITY_LABELS.get(kind, kind),
        account_status=lambda key: STATUS_LABELS.get(key, key),
        completion_rule=lambda key: COMPLETION_LABELS.get(key, key),
        job_kind=kind_label,
    )

    env.globals.update(ROLE_LABELS=ROLE_LABELS, min_attendance=min_attendance)
    # The activity editor's « Évaluation » of a quiz (issue 23); « Aucune » is the select's empty choice.
    env.globals.update(ASSESSMENT_CHOICES=[c for c in ASSESSMENT_CHOICES if c[0]])
    return env
