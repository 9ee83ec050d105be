"""The shared table helper at scale (issue 8): a sort on a referenced table's column is read group
by group on PostgreSQL; it must give exactly the pages ORDER BY gives, from either end."""

import pytest

from app import datatable
from app.lists.admin import ROLES
from app.lists.users import USERS
from app.services.auth import load_current_user
from app.tables.accounts import User
from app.tables.org import Establishment


async def _pages(table, user, params: dict) -> list[list[int]]:
    pages = []
    for page in ("1", "2", "3", "-1", "-2"):
        result = await table.fetch(user, {**params, "page": page, "per_page": "20"})
        pages.append([r["id"] for r in result.rows])
    return pages


@pytest.mark.smoke
async def test_a_sort_on_a_referenced_column_walked_or_sorted_gives_the_same_pages(demo, monkeypatch):
    # Users without an establishment (they sort last going up, first going down), and an
    # establishment whose code sorts first though it was created last.
    alp = await Establishment.select(Establishment.delegation).where(Establishment.code == "ALP001").first()
    await Establishment.insert(Establishment(code="AAA000", name="CRÉÉ EN DERNIER", delegation=alp["delegation"]))
    await User.update({User.establishment: None}).where(User.username.like("dam016.%"))
    newest = await Establishment.select(Establishment.id).where(Establishment.code == "AAA000").first()
    await User.update({User.establishment: newest["id"]}).where(User.username.like("alp002.a%"))
    monkeypatch.setattr(datatable.model, "COUNT_CAP", 40)  # so that pages -1 and -2 are counted from the end
    admin = await load_current_user((await User.select(User.id).where(User.username == "admin").first())["id"])
    get = await load_current_user((await User.select(User.id).where(User.username == "alp001.get").first())["id"])
    cases = [(USERS, admin, {"sort": s}) for s in ("establishment", "-establishment", "instance", "-instance")]
    cases += [(USERS, get, {"sort": "establishment"}), (USERS, admin, {"sort": "-establishment", "state": "active"}),
              (ROLES, admin, {}), (ROLES, admin, {"sort": "-last_name"})]
    walked = [await _pages(table, user, params) for table, user, params in cases]
    if User._meta.db.engine_type == "postgres":
        state = USERS.parse({"sort": "establishment"})
        assert await USERS._group_walk([], state, False, 20) is not None  # the walk is what was measured
    monkeypatch.setattr(datatable.model, "GROUP_WALK_MAX", -1)  # ORDER BY only
    sorted_ = [await _pages(table, user, params) for table, user, params in cases]
    assert walked == sorted_
    # And the order is the one a person expects: by establishment code, then by name; people
    # without an establishment together at one end (the end on PostgreSQL, the start on SQLite).
    first = await USERS.fetch(admin, {"sort": "establishment", "per_page": "100"})
    codes = [r["establishment_code"] for r in first.rows]
    known = [c for c in codes if c is not None]
    assert known[0] == "AAA000" and known == sorted(known) and len(known) < len(codes)
    names = [r["last_name"].lower() for r in first.rows if r["establishment_code"] == "AAA000"]
    assert names == sorted(names)
    nulls_last = User._meta.db.engine_type == "postgres"
    assert codes == (known + [None] * (len(codes) - len(known)) if nulls_last
                     else [None] * (len(codes) - len(known)) + known)
