"""2026-12-07T07:00:00: the analytics dashboard's covering index on the active enrolments, which a
GET's query reads by an index-only scan (issue 24: a scan of every enrolment otherwise)."""

import asyncpg
import pytest

from tests.conftest import BACKEND
from tests.migrations.scratch import migrate, scratch_database

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="migrations run on PostgreSQL")


async def test_the_dashboards_enrolments_are_read_from_the_covering_index():
    async with scratch_database() as url:
        migrate(url)
        conn = await asyncpg.connect(url)
        try:
            definition = await conn.fetchval("SELECT indexdef FROM pg_indexes WHERE indexname = 'enrolment_analytics'")
            assert "INCLUDE (id, \"user\", enrolled_at, completed_at, last_visit, required_done, attended_minutes)" in definition
            assert definition.endswith("WHERE active")
            # Enrolments on many pages, all visible (VACUUM), and in the order a real table has them:
            # a session's enrolments scattered among the others' (written over the years), not one
            # session's filling the table in a row — then reading the heap is what the covering index
            # saves (on an empty or session-ordered table the planner may pick any index leading with
            # the session: there is no cost difference to see).
            await conn.execute("""
                INSERT INTO delegation (id, code, name) VALUES (1, 'ALP', 'Alpes');
                INSERT INTO establishment (id, code, name, delegation) VALUES (1, 'ALP001', 'CH', 1), (2, 'ALP002', 'CH2', 1);
                INSERT INTO app_user (id, username, password_hash, first_name, last_name, email)
                    SELECT i, 'u' || i, 'x', 'A', 'B', 'u' || i || '@x' FROM generate_series(1, 6000) i;
                INSERT INTO training_session (id, establishment, full_name, short_name, start_date, end_date, code)
                    SELECT i, 1 + i % 2, 'S', 'S', '2026-01-01', '2026-01-02', '26X00S' || i FROM generate_series(1, 40) i;
                INSERT INTO enrolment (session, "user") SELECT 1 + i % 40, i FROM generate_series(1, 6000) i;
            """)
            await conn.execute("VACUUM ANALYZE enrolment")
            # The shape of a GET's filter (app/services/analytics.py): its sessions as an array.
            await conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
            plan = "\n".join(r[0] for r in await conn.fetch(
                "EXPLAIN SELECT e.session, e.enrolled_at, e.completed_at, e.required_done FROM enrolment e "
                "WHERE e.active AND e.session = ANY(ARRAY(SELECT s.id FROM training_session s WHERE s.establishment IN (1, 3)))"))
            assert "Index Only Scan using enrolment_analytics" in plan, plan
        finally:
            await conn.close()
