"""'Gérer mes utilisateurs' with 100,000 users on PostgreSQL: a filtered, sorted page with its
count (target p95 <= 50 ms server time), and the Excel export of all of them in the job
(target <= 10 s, memory bounded).

Run: .venv/bin/python bench/users_table.py
"""

import resource
from datetime import timedelta
import statistics
import time

import _setup

N = 100_000
RUNS = 40


async def seed() -> None:
    from app.bulk import bulk_insert
    from app.dates import now
    from app.demo import load_demo
    from app.services.imports import USER_COLUMNS
    from app.services.text import user_text_fields
    from app.tables.org import Establishment

    await load_demo()
    ids = [r["id"] for r in await Establishment.select(Establishment.id).order_by(Establishment.id)]
    import random

    rng = random.Random(7)
    firsts = ["Élodie", "Léa", "Hugo", "Chloé", "Théo", "Inès", "Noé", "Zoé", "Camille", "Louis", "Anaïs", "Jérôme",
              "Françoise", "Gaëlle", "Loïc", "Céline", "Valentin", "Mathéo", "Raphaël", "Manon"]
    syllables = ["le", "fè", "vre", "gi", "rard", "bé", "nard", "mer", "cier", "an", "dré", "no", "ël", "mo", "rel",
                 "roux", "fau", "re", "per", "rin", "du", "pont", "mar", "tin", "ber", "ge", "ron", "cha", "vin", "lac"]
    # About 27,000 distinct last names, as in a real population: a name search finds a handful.
    t = now()
    rows = []
    for i in range(N):
        first = rng.choice(firsts)
        last = "".join(rng.choice(syllables) for _ in range(rng.choice((2, 3)))).capitalize()
        username, email = f"bench.{i}", f"agent{i}@example.org"
        keys = user_text_fields(first, last, username, email)
        rows.append((username, "x", first, last, email, ids[i % len(ids)], "Agent FPH", f"000{i}", i % 17 == 0, False,
                     keys["search_text"], keys["last_name_key"], keys["first_name_key"], t))
    # Six in ten have logged in at some point in the last year.
    last_access = [(t - timedelta(minutes=rng.randint(0, 525600)), f"bench.{i}") for i in range(N) if rng.random() < 0.6]
    from app.tables.accounts import User

    await bulk_insert(User, USER_COLUMNS, rows)
    from app.tables.accounts import User as U  # noqa: N814
    engine = U._meta.db
    async with engine.pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE bench_access (last_access timestamptz, username text)")
        await conn.copy_records_to_table("bench_access", records=last_access)
        await conn.execute("UPDATE app_user u SET last_access = b.last_access FROM bench_access b WHERE b.username = u.username")

    await User.raw("ANALYZE app_user")


async def main() -> None:
    from app import db
    from app.controllers.users import USERS
    from app.services.auth import load_current_user
    from app.tables.accounts import User

    await db.open_pool()
    await seed()
    admin = await load_current_user((await User.select(User.id).where(User.username == "admin").first())["id"])
    get = await load_current_user((await User.select(User.id).where(User.username == "alp001.get").first())["id"])
    cases = {
        "admin, no filter, sort by name, page 1": (admin, {}),
        "admin, nom contains 'dupont'": (admin, {"nom": "dupont"}),
        "admin, nom contains 'fè' (very common), page 3": (admin, {"nom": "fè", "page": "3"}),
        "admin, état suspendu, sort -last_access": (admin, {"etat": "suspendu", "sort": "-last_access"}),
        "GET of 2 establishments, prénom 'élo', sort email, page 10": (get, {"prenom": "élo", "sort": "email", "page": "10"}),
        "GET, deep page 1000 of 50": (get, {"per_page": "50", "page": "1000"}),
    }
    print(f"{N} users in the table")
    for label, (user, params) in cases.items():
        timings = []
        for _ in range(RUNS):
            t0 = time.perf_counter()
            page = await USERS.fetch(user, params)
            timings.append((time.perf_counter() - t0) * 1000)
        print(f"{label}: {page.total} rows, p50 {statistics.median(timings):.1f} ms, "
              f"p95 {_setup.percentile(timings, 95):.1f} ms")

    t0 = time.perf_counter()
    n = 0
    async for rows in USERS.iter_rows(admin, {}):
        n += len([USERS.export_values(r) for r in rows])
    print(f"  (reading the {n} rows through the cursor and shaping them: {time.perf_counter() - t0:.2f} s)")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    content = await USERS.export_xlsx(admin, {})
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"Excel export of every user ({N + 56} rows): {elapsed:.2f} s, {len(content) / 1e6:.1f} MB file, "
          f"peak RSS {after / 1024:.0f} MB (grew {max(0, after - before) / 1024:.0f} MB)")
    await db.close_pool()


if __name__ == "__main__":
    _setup.run(main)
