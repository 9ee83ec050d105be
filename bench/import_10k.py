"""CSV import of 10,000 accounts on PostgreSQL, upload to committed accounts (target <= 10 s).

Run: .venv/bin/python bench/import_10k.py   (BENCH_SMOKE=1: 50 rows)
"""

import time

import _setup

ROWS = _setup.scale(10_000, 50)


def csv_content(rows: int) -> bytes:
    """An import file of ``rows`` accounts (Windows-1252, as Excel saves it): half with their own
    password, half with one generated and mailed; every tenth in a cohort. Accounts alp001.p.nom<i>."""
    lines = ["firstname;lastname;password;email;profile_field_matricule;cohort1"]
    for i in range(rows):
        password = f"Anfh_{i:05d}!" if i % 2 else ""
        lines.append(f"Prénom{i};Nöm{i};{password};agent{i}@example.org;{500000 + i};{'Cohorte_Ex25' if i % 10 == 0 else ''}")
    return ("\r\n".join(lines) + "\r\n").encode("windows-1252")


async def main() -> None:
    from app import db, queue
    from app.demo import load_demo
    from app.services import imports
    from app.services.auth import load_current_user
    from app.tables.accounts import User
    from app.tables.org import Establishment

    await db.open_pool()
    redis = await queue.connect()
    await redis.flushdb()
    await load_demo()
    establishment = await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first()
    get = await User.select(User.id).where(User.username == "alp001.get").first()
    user = await load_current_user(get["id"])
    content = csv_content(ROWS)

    t0 = time.perf_counter()
    batch_id = await imports.create_batch(user, establishment["id"], "bench.csv", content)
    t1 = time.perf_counter()
    await imports.confirm(user, batch_id, redis)
    counts = await imports.run_import(redis, batch_id)
    t2 = time.perf_counter()
    created = await User.count().where(User.username.like("alp001.p.nom%"))
    print(f"file: {len(content) / 1e6:.2f} MB, {ROWS} rows")
    print(f"upload (read + analyse + store preview): {t1 - t0:.2f} s")
    print(f"job (create accounts, roles, cohort, {ROWS // 2} mails queued): {t2 - t1:.2f} s  {counts}")
    print(f"upload to committed accounts: {t2 - t0:.2f} s  (accounts in the database: {created})")
    await redis.aclose()
    await db.close_pool()
    _setup.check(created == ROWS, f"{ROWS} rows imported, {created} accounts in the database ({counts})")


if __name__ == "__main__":
    _setup.run(main)
