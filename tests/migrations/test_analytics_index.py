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
            # Enrolments on several pages, all visible (VACUUM): on an empty table the planner picks
            # among the indexes leading with the session at no cost difference (another one came
            # with 2026-12-07T09:10), where with rows the index-only scan is the cheap one.
            await conn.execute("""
                INSERT INTO delegation (id, code, name) VALUES (1, 'ALP', 'Alpes');
                INSERT INTO establishment (id, code, name, delegation) VALUES (1, 'ALP001', 'CH', 1);
                INSERT INTO app_user (id, username, password_hash, first_name, last_name, email)
                    SELECT i, 'u' || i, 'x', 'A', 'B', 'u' || i || '@x' FROM generate_series(1, 3000) i;
                INSERT INTO training_session (id, establishment, full_name, short_name, start_date, end_date, code)
                    VALUES (1, 1, 'S', 'S', '2026-01-01', '2026-01-02', '26X00S1');
                INSERT INTO enrolment (session, "user") SELECT 1, i FROM generate_series(1, 3000) i;
            """)
            await conn.execute("VACUUM ANALYZE enrolment")
            # The shape of a GET's filter (app/services/analytics.py): its sessions as an array.
            await conn.execute("SET enable_seqscan = off; SET enable_bitmapscan = off")
            plan = "\n".join(r[0] for r in await conn.fetch(
                "EXPLAIN SELECT e.session, e.enrolled_at, e.completed_at, e.required_done FROM enrolment e "
                "WHERE e.active AND e.session = ANY(ARRAY(SELECT s.id FROM training_session s WHERE s.establishment IN (1, 2)))"))
            assert "Index Only Scan using enrolment_analytics" in plan, plan
        finally:
            await conn.close()
