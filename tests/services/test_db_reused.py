"""``db.reused``: a Piccolo query whose SQL is built once and run again with new values (the
registration wizard reads its draft, its session and a setting on every page) — the same rows as
the query built each time, for every value, on PostgreSQL and SQLite, inside a transaction too."""

import pytest

from app import db
from app.tables.org import Delegation, Establishment

_by_code = db.reused(lambda code: Establishment.select(
    Establishment.all_columns(), Establishment.delegation.name.as_alias("delegation_name"),
).where((Establishment.code == code) & (Establishment.name != "")).first())
_of_delegation = db.reused(lambda delegation, after: Establishment.select(Establishment.code).where(
    (Establishment.delegation == delegation) & (Establishment.code > after)).order_by(Establishment.code))


@pytest.mark.smoke
async def test_a_reused_query_gives_what_the_query_gives_for_each_value(clean):
    alps = (await Delegation.insert(Delegation(code="ALP", name="Alpes")).returning(Delegation.id))[0]["id"]
    jura = (await Delegation.insert(Delegation(code="JUR", name="Jura")).returning(Delegation.id))[0]["id"]
    await Establishment.insert(Establishment(code="ALP001", name="CH de Nyons", delegation=alps),
                               Establishment(code="ALP002", name="EHPAD de Dieulefit", delegation=alps),
                               Establishment(code="JUR001", name="CH de Dole", delegation=jura))
    for code in ("ALP001", "JUR001", "ALP002"):
        built = await Establishment.select(
            Establishment.all_columns(), Establishment.delegation.name.as_alias("delegation_name"),
        ).where((Establishment.code == code) & (Establishment.name != "")).first()
        assert await _by_code(code) == built
    assert (await _by_code("JUR001"))["delegation_name"] == "Jura"
    assert await _by_code("NONE01") is None
    assert [r["code"] for r in await _of_delegation(alps, "")] == ["ALP001", "ALP002"]
    assert [r["code"] for r in await _of_delegation(alps, "ALP001")] == ["ALP002"]
    assert [r["code"] for r in await _of_delegation(jura, "")] == ["JUR001"]
    # Inside a transaction: on its connection, what it wrote is seen (and gone once rolled back).
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await Establishment.update({Establishment.name: "CH de Dole-Jura"}).where(Establishment.code == "JUR001")
            assert (await _by_code("JUR001"))["name"] == "CH de Dole-Jura"
            raise RuntimeError("rolled back")
    assert (await _by_code("JUR001"))["name"] == "CH de Dole"


def test_a_value_the_query_does_not_pass_as_a_parameter_is_refused():
    # A value used to shape the query (here a Python test on it) would be frozen at its first value.
    shaped = db.reused(lambda code: Establishment.select(Establishment.id).where(
        Establishment.code == "ALP001" if code else Establishment.code == "JUR001"))
    import asyncio

    with pytest.raises(ValueError, match="not passed as parameters"):
        asyncio.run(shaped("x"))
