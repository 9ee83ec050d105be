"""An embedded (SQLite) database made before ``notified_at`` gets the column at start, and the same
backfill as the PostgreSQL migration: requests already notified are not notified again by the
sweep, stored answers become yes/no."""

import pytest

from app import db
from app.tables.registration import RegistrationRequest, RequestEvent


@pytest.mark.smoke
async def test_an_old_embedded_database_is_brought_up_to_date(clean):
    if not db.is_sqlite():
        pytest.skip("the embedded database only (PostgreSQL has its migrations, tested on every run)")
    notified = await RegistrationRequest.insert(RegistrationRequest(
        reference="R26-OLD001", status="confirmed", email="a@example.org")).returning(RegistrationRequest.id)
    lost = await RegistrationRequest.insert(RegistrationRequest(
        reference="R26-OLD002", status="confirmed", email="b@example.org")).returning(RegistrationRequest.id)
    await RequestEvent.insert(RequestEvent(request=notified[0]["id"], action="Notifications envoyées"))
    await RegistrationRequest.raw("ALTER TABLE registration_request DROP COLUMN notified_at")
    await RegistrationRequest.raw("UPDATE registration_request SET dietary = 'oui', consent_carpool = 'non'")
    await db.create_sqlite_tables()
    rows = {r["reference"]: r for r in await RegistrationRequest.select()}
    assert rows["R26-OLD001"]["notified_at"] is not None
    assert rows["R26-OLD002"]["notified_at"] is None  # never notified: the sweep's
    assert {(r["dietary"], r["consent_carpool"]) for r in rows.values()} == {("yes", "no")}


@pytest.mark.smoke
async def test_an_old_embedded_database_gets_the_organisations_search_text(clean):
    """Issue 9: ``organisation.search_text`` (the wizard's accent-insensitive search) added at start
    and filled for the organisations already there — a fold SQL cannot do."""
    if not db.is_sqlite():
        pytest.skip("the embedded database only (PostgreSQL has its migrations, tested on every run)")
    from app.services.registration import search_organisations
    from app.tables.registration import Organisation

    await Organisation.insert(Organisation(name="Mairie de Mollans-sur-Ouvèze", postal_code="26170"))
    await Organisation.raw("ALTER TABLE organisation DROP COLUMN search_text")
    await db.create_sqlite_tables()
    assert [r["name"] for r in await search_organisations("mollans sur ouveze")] == ["Mairie de Mollans-sur-Ouvèze"]
