"""Issue 20 point 3: the accounts the registration back office created in the session's
establishment (before external trainees existed) become external trainees of their organisation;
the migration is safe to run again and leaves every other account alone."""


import asyncpg
import pytest

from tests.conftest import BACKEND
from tests.migrations.scratch import migrate, scratch_database

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="migrations run on PostgreSQL")

COLUMNS = "2026-12-06T19:10:00:000000"  # the columns; the data migration comes right after



STEP_8 = "8. Validation opérateur"


async def test_accounts_created_by_registration_move_to_their_organisation_once():
    async with scratch_database() as url:
        migrate(url, COLUMNS)
        conn = await asyncpg.connect(url)
        try:
            # As the old step 8 left them: the session's establishment, its nomenclature, a learner role there.
            await conn.execute("""
                INSERT INTO delegation (id, code, name) VALUES (1, 'ALP', 'Alpes');
                INSERT INTO establishment (id, code, name, delegation) VALUES (1, 'ALP001', 'CH BUIS LES BARONNIES', 1);
                INSERT INTO organisation (id, name) VALUES (10, 'Mairie de Mollans-sur-Ouvèze (doublon)'),
                    (11, 'Mairie de Mollans-sur-Ouvèze'), (12, 'Mairie de Nyons');
                UPDATE organisation SET merged_into = 11 WHERE id = 10;
                INSERT INTO app_user (id, username, password_hash, first_name, last_name, email, establishment, created_at)
                    VALUES (1, 'alp001.f.leveque-sauvan', 'x', 'F', 'Lévêque-Sauvan', 'f@x', 1, '2026-11-02 10:00:01+00'),
                           (2, 'alp001.v.blondel', 'x', 'V', 'Blondel', 'v@x', 1, '2026-01-01 00:00:00+00'),
                           (3, 'alp001.a.agent', 'x', 'A', 'Agent', 'a@x', 1, '2026-11-03 10:00:01+00'),
                           (4, 'alp001.m.promue', 'x', 'M', 'Promue', 'm@x', 1, '2026-11-04 10:00:01+00');
                INSERT INTO role_assignment ("user", role, establishment) VALUES
                    (1, 'learner', 1), (2, 'learner', 1), (3, 'learner', 1), (4, 'learner', 1), (4, 'get', 1);
                INSERT INTO registration_request (id, reference, status, "user", organisation) VALUES
                    (1, 'R26-AAA', 'completed', 1, 10),  -- created by its step 8 (organisation since merged)
                    (2, 'R26-BBB', 'completed', 2, 12),  -- step 8 reused an older account
                    (3, 'R26-CCC', 'completed', 4, 12);  -- created by step 8, made a GET since
                INSERT INTO request_event (request, action, at) VALUES
                    (1, 'Demande envoyée', '2026-11-01 09:00:00+00'), (1, '%(step)s', '2026-11-02 10:00:00+00'),
                    (2, '%(step)s', '2026-11-02 11:00:00+00'), (3, '%(step)s', '2026-11-04 10:00:00+00');
            """ % {"step": STEP_8})
        finally:
            await conn.close()
        migrate(url)
        conn = await asyncpg.connect(url)
        try:
            query = 'SELECT id, username, external, establishment, organisation FROM app_user ORDER BY id'
            after = [tuple(r) for r in await conn.fetch(query)]
            assert after == [
                (1, "alp001.f.leveque-sauvan", True, None, 11),  # her login unchanged
                (2, "alp001.v.blondel", False, 1, None),
                (3, "alp001.a.agent", False, 1, None),
                (4, "alp001.m.promue", False, 1, None),
            ]
            roles = await conn.fetch('SELECT "user", role, establishment FROM role_assignment ORDER BY "user", role')
            assert [tuple(r) for r in roles] == [(1, "learner", None), (2, "learner", 1), (3, "learner", 1),
                                                 (4, "get", 1), (4, "learner", 1)]
            # Run again: nothing changes.
            from app.tables.registration import MOVE_REGISTERED_ACCOUNTS

            for statement in MOVE_REGISTERED_ACCOUNTS:
                await conn.execute(statement)
            assert [tuple(r) for r in await conn.fetch(query)] == after
        finally:
            await conn.close()
