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


@pytest.mark.smoke
async def test_an_old_embedded_database_moves_the_accounts_registration_created(clean):
    """Issue 20 point 3: ``app_user.external`` and ``organisation`` added at start, and the accounts
    the older step 8 created in the session's establishment moved to their organisation, as the
    PostgreSQL data migration does; an agent stays an agent (the « Agents » filter finds them)."""
    if not db.is_sqlite():
        pytest.skip("the embedded database only (PostgreSQL has its migrations, tested on every run)")
    from datetime import datetime, timedelta, timezone

    from app.tables.accounts import RoleAssignment, User
    from app.tables.org import Delegation, Establishment
    from app.tables.registration import Organisation

    step_8 = datetime(2026, 11, 2, 10, tzinfo=timezone.utc)
    delegation = await Delegation.insert(Delegation(code="ALP", name="Alpes")).returning(Delegation.id)
    est = await Establishment.insert(Establishment(code="ALP001", name="CH", delegation=delegation[0]["id"])).returning(
        Establishment.id)
    org = await Organisation.insert(Organisation(name="Mairie de Mollans-sur-Ouvèze")).returning(Organisation.id)
    users = await User.insert(
        User(username="alp001.f.leveque-sauvan", email="f@x", establishment=est[0]["id"], created_at=step_8 + timedelta(seconds=1)),
        User(username="alp001.v.blondel", email="v@x", establishment=est[0]["id"], created_at=step_8 - timedelta(days=90)),
    ).returning(User.id)
    fanny, valentin = (u["id"] for u in users)
    await RoleAssignment.insert(RoleAssignment(user=fanny, role="learner", establishment=est[0]["id"]),
                                RoleAssignment(user=valentin, role="learner", establishment=est[0]["id"]))
    request = await RegistrationRequest.insert(RegistrationRequest(
        reference="R26-OLD003", status="completed", user=fanny, organisation=org[0]["id"])).returning(RegistrationRequest.id)
    await RequestEvent.insert(RequestEvent(request=request[0]["id"], action="8. Validation opérateur", at=step_8))
    await User.raw("ALTER TABLE app_user DROP COLUMN external")
    await User.raw("ALTER TABLE app_user DROP COLUMN organisation")
    await db.create_sqlite_tables()
    rows = {r["username"]: r for r in await User.select(User.username, User.external, User.establishment, User.organisation)}
    assert rows["alp001.f.leveque-sauvan"] == {"username": "alp001.f.leveque-sauvan", "external": True,
                                               "establishment": None, "organisation": org[0]["id"]}
    assert rows["alp001.v.blondel"]["external"] is False and rows["alp001.v.blondel"]["establishment"] == est[0]["id"]
    assert [r["username"] for r in await User.select(User.username).where(User.external != True)] == [  # noqa: E712
        "alp001.v.blondel"]
    assert await RoleAssignment.select(RoleAssignment.establishment).where(RoleAssignment.user == fanny) == [
        {"establishment": None}]


@pytest.mark.smoke
async def test_an_old_embedded_database_gets_the_import_decisions_as_an_array(clean):
    """``import_row.allowed`` was comma-separated text; an embedded database made then has its
    column converted at start (SQLite cannot change a column's type: set aside, added, filled)."""
    if not db.is_sqlite():
        pytest.skip("the embedded database only (PostgreSQL has its migrations, tested on every run)")
    from app.tables.imports import ImportBatch, ImportRow
    from app.tables.org import Delegation, Establishment

    delegation = await Delegation.insert(Delegation(code="ALP", name="Alpes")).returning(Delegation.id)
    est = await Establishment.insert(Establishment(code="ALP001", name="CH", delegation=delegation[0]["id"])).returning(
        Establishment.id)
    batch = await ImportBatch.insert(ImportBatch(establishment=est[0]["id"], filename="a.csv")).returning(ImportBatch.id)
    await ImportRow.raw("ALTER TABLE import_row DROP COLUMN allowed")
    await ImportRow.raw("ALTER TABLE import_row ADD COLUMN allowed VARCHAR(64) NOT NULL DEFAULT 'create,skip'")
    await ImportRow.raw("INSERT INTO import_row (batch, line, allowed) VALUES ({}, 2, 'skip,update,update_password'), "
                        "({}, 3, 'skip')", batch[0]["id"], batch[0]["id"])
    await ImportRow.raw("INSERT INTO import_row (batch, line) VALUES ({}, 4)", batch[0]["id"])
    await db.create_sqlite_tables()
    rows = await ImportRow.select(ImportRow.line, ImportRow.allowed).order_by(ImportRow.line)
    assert [(r["line"], r["allowed"]) for r in rows] == [
        (2, ["skip", "update", "update_password"]), (3, ["skip"]), (4, ["create", "skip"])]
    columns = [r["name"] for r in await ImportRow.raw('PRAGMA table_info("import_row")')]
    assert "allowed_old" not in columns
