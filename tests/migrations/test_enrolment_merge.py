"""Migrations run over a database that already has rows (Piccolo runs raw steps before column
changes: a backfill in the same migration as its column fails there). The one to one enrolment per
person carries existing rows over: the methods of
one person become sources of one enrolment, an inactive-only one stays inactive, the summary is set."""


import asyncpg

from tests.conftest import BACKEND
from tests.migrations.scratch import migrate, scratch_database

import pytest

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="migrations run on PostgreSQL")

BEFORE = "2026-11-23T11:43:26:332116"  # rows written by the version before the learning record and search columns



async def test_existing_enrolments_are_merged_per_person():
    async with scratch_database() as url:
        migrate(url, BEFORE)
        conn = await asyncpg.connect(url)
        try:
            await conn.execute("""
                INSERT INTO delegation (id, code, name) VALUES (1, 'ALP', 'Alpes Éd');
                INSERT INTO establishment (id, code, name, delegation) VALUES (1, 'ALP001', 'CH', 1);
                INSERT INTO app_user (id, username, password_hash, first_name, last_name, email)
                    VALUES (1, 'a', 'x', 'A', 'B', 'a@x'), (2, 'b', 'x', 'C', 'D', 'b@x');
                INSERT INTO cohort (id, establishment, name) VALUES (5, 1, 'C5');
                INSERT INTO training_session (id, establishment, full_name, short_name, start_date, end_date, code)
                    VALUES (1, 1, 'S', 'S', '2026-01-01', '2026-01-02', '26X00S1');
                INSERT INTO session_activity (session, kind, title, required)
                    VALUES (1, 'page', 'P1', true), (1, 'page', 'P2', true), (1, 'page', 'P3', false);
                INSERT INTO enrolment (session, "user", role, method, cohort, active) VALUES
                    (1, 1, 'learner', 'manual', NULL, true), (1, 1, 'learner', 'cohort', 5, true),
                    (1, 2, 'learner', 'cohort', 5, false);
            """)
        finally:
            await conn.close()
        migrate(url)
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch('SELECT id, "user", active, required_total FROM enrolment ORDER BY "user"')
            assert [(r["user"], r["active"], r["required_total"]) for r in rows] == [(1, True, 2), (2, False, 2)]
            sources = await conn.fetch("SELECT key FROM enrolment_source WHERE enrolment = $1 ORDER BY key", rows[0]["id"])
            assert [s["key"] for s in sources] == ["cohort:5", "manual"]
            assert await conn.fetchval("SELECT search_text FROM delegation") == "alp alpes ed"
            with pytest.raises(asyncpg.UniqueViolationError):
                await conn.execute('INSERT INTO enrolment (session, "user") VALUES (1, 1)')
        finally:
            await conn.close()
