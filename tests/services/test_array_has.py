"""``db.array_has``: an element of an array column, the same on PostgreSQL (an array) and SQLite
(JSON text) — « update » is not found in a row that offers only « update_password »."""

import pytest

from app import db
from app.tables.imports import ImportBatch, ImportRow
from app.tables.org import Delegation, Establishment


@pytest.mark.smoke
async def test_an_element_is_found_whole(clean):
    delegation = await Delegation.insert(Delegation(code="ALP", name="Alpes")).returning(Delegation.id)
    establishment = await Establishment.insert(Establishment(code="ALP001", name="CH", delegation=delegation[0]["id"])
                                               ).returning(Establishment.id)
    batch = await ImportBatch.insert(ImportBatch(establishment=establishment[0]["id"], filename="a.csv")
                                     ).returning(ImportBatch.id)
    await ImportRow.insert(*(ImportRow(batch=batch[0]["id"], line=line, allowed=allowed) for line, allowed in
                             ((2, ["skip", "update_password"]), (3, ["skip", "update", "update_password"]), (4, ["skip"]))))
    rows = await ImportRow.select(ImportRow.line, ImportRow.allowed).order_by(ImportRow.line)
    assert rows[0]["allowed"] == ["skip", "update_password"]  # a list back, whatever the database
    found = {}
    for decision in ("update", "update_password", "skip", "create"):
        query = ImportRow.select(ImportRow.line).where(db.array_has(ImportRow.allowed, decision))
        found[decision] = [r["line"] for r in await query.order_by(ImportRow.line)]
    assert found == {"update": [3], "update_password": [2, 3], "skip": [2, 3, 4], "create": []}
