"""The analytics dashboard's rollup (issue 24, ten times the data; app/services/analytics_rollup.py):
what the dashboard sums, kept per session so a cold dashboard reads tens of thousands of rows rather
than every enrolment. PostgreSQL only: the embedded SQLite database computes from the enrolments
(its network is small) and leaves these tables empty.

Kept correct by the database itself: triggers on the enrolments, the certificates, the accounts'
``external`` and the sessions' establishment and template note the sessions whose figures changed in
``analytics_dirty`` (migration 2026-12-07T09:00); the next computation of the dashboard (or the
``refresh_analytics`` cron) recomputes those sessions' rows first. No writer of the app can forget it.
"""

from piccolo.columns import BigInt, Boolean, DoublePrecision, Integer
from piccolo.constraints import Unique
from piccolo.table import Table


class AnalyticsDirty(Table):
    """A session whose figures changed since the rollup was last brought up to date (append-only:
    a writer never waits for another; the refresh takes them all)."""

    session = Integer()


class AnalyticsSession(Table):
    """A session's counts for one audience (0 everyone, 1 agents, 2 external trainees), and its
    times to complete (median and 80th centile, days). Only sessions with active enrolments."""

    session = Integer()
    audience = Integer()
    establishment = Integer()  # the session's, when the row was computed (the dashboard joins the live one)
    template = Integer()  # 0: none
    n = BigInt()
    started = BigInt()
    done = BigInt()
    certified = BigInt()
    attended = BigInt()
    attendees = BigInt()
    median_days = DoublePrecision(null=True, default=None)
    p80_days = DoublePrecision(null=True, default=None)

    analytics_session_unique = Unique(["session", "audience"])


class AnalyticsPart(Table):
    """A session's contribution to ``AnalyticsPartSum``: ``n`` active enrolments of that kind and
    value — kind 0: enrolled in month ``value`` (yyyymm, local time), 1: completed in month ``value``,
    2: completed ``value`` seconds after enrolling."""

    session = Integer(index=True)
    establishment = Integer()
    template = Integer()
    external = Boolean()
    kind = Integer()
    value = BigInt()
    n = BigInt()


class AnalyticsPartSum(Table):
    """``AnalyticsPart`` summed per establishment, template and audience: the months and the times to
    complete of any scope, establishment or template filter (a few tens of thousands of rows)."""

    establishment = Integer()
    template = Integer()
    external = Boolean()
    kind = Integer()
    value = BigInt()
    n = BigInt()

    analytics_part_sum_unique = Unique(["establishment", "template", "external", "kind", "value"])
