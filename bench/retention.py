"""The daily retention job on PostgreSQL (issue 25: 1,000,000 accounts in <= 60 s, set-based).

Accounts seeded in SQL (INSERT … SELECT generate_series, with their learner role), in tenths:
6/10 active (seen this year), 1/10 in the warning window, 1/10 unused for over two years and never
warned, 1/20 never logged in since their creation three years ago, 1/10 warned 40 days ago (due for
pseudonymisation), 1/20 pseudonymised a year ago holding evidence of a session ended four years ago (an
enrolment, two attendance cells and records, a certificate each: deleted by this run); a few hundred
managers unused (protected); as many sent mails older than 90 days as a tenth of the accounts, and
drafts older than 30 days.

The first run warns (writing the mails), pseudonymises, deletes the evidence, the drafts and the mail
bodies; the second run, the same day, changes nothing. Both timed (wall: elapsed; CPU: this process
plus the database's backends, bench/_setup.Work), with the machine's load.

Run: .venv/bin/python bench/retention.py   (100,000 accounts; BENCH_SCALE=10: 1,000,000;
BENCH_SMOKE=1: 400)
"""

import time

import _setup

ACCOUNTS = _setup.size(100_000, 400, tenfold=1_000_000)


def _account_sql(n: int) -> str:
    """Every account of ALP001 in one statement; its tenth (``i % 20``) says how it was used."""
    seen = ("CASE WHEN g % 20 < 12 THEN now() - interval '100 days' "
            "WHEN g % 20 < 14 THEN now() - interval '710 days' "
            "WHEN g % 20 < 16 THEN now() - interval '800 days' "
            "WHEN g % 20 = 16 THEN NULL "
            "ELSE now() - interval '800 days' END")
    return (
        "INSERT INTO app_user (username, password_hash, first_name, last_name, email, establishment, status, "
        "matricule, is_suspended, force_password_change, credentials_version, search_text, last_name_key, "
        "first_name_key, last_access, created_at, external, trainer_status, retention_warned_at, pseudonymised_at, "
        "deactivated_at) "
        "SELECT 'alp001.r.bench' || g, 'x', 'Prénom' || g, 'Nom' || g, 'r.bench' || g || '@example.org', {}, "
        "'fph_agent', 'M' || g, FALSE, FALSE, 0, 'nom' || g || ' prenom' || g, 'nom' || g, 'prenom' || g, "
        f"{seen}, now() - interval '1100 days', FALSE, '', "
        "CASE WHEN g % 20 IN (17, 18) THEN now() - interval '40 days' END, "
        "CASE WHEN g % 20 = 19 THEN now() - interval '365 days' END, "
        "CASE WHEN g % 20 = 19 THEN now() - interval '365 days' END "
        f"FROM generate_series(1, {int(n)}) g")


async def seed(n: int) -> dict:
    from app.demo import load_demo
    from app.tables.accounts import User
    from app.tables.org import Establishment

    await load_demo(with_sessions=False)
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    raw = User.raw
    async with _setup.indexes_dropped("app_user", "role_assignment", "mail"):
        await _bulk(raw, n, alp001)
    await _evidence(raw, alp001)
    await raw("ANALYZE")
    return {"managers": max(2, n // 2000)}


async def _bulk(raw, n: int, alp001: int) -> None:
    await raw(_account_sql(n), alp001)
    await raw("INSERT INTO role_assignment (\"user\", role, establishment, created_at) SELECT id, 'learner', {}, now() "
              "FROM app_user WHERE username LIKE 'alp001.r.bench%'", alp001)
    await raw("INSERT INTO role_assignment (\"user\", role, establishment, created_at) SELECT id, 'get', {}, now() "
              "FROM app_user WHERE username LIKE 'alp001.r.bench%' AND last_access IS NULL ORDER BY id LIMIT {}",
              alp001, max(2, n // 2000))
    await raw("INSERT INTO mail (recipients, intended_recipients, subject, body_text, body_html, secret, status, tries, "
              "last_error, is_test, category, group_key, created_at) SELECT 'm' || g || '@example.org', '', "
              "'Objet', 'Bonjour, votre mot de passe…', '', '', 'sent', 1, '', FALSE, 'accounts', '', "
              f"now() - interval '120 days' FROM generate_series(1, {n // 10}) g")
    await raw("INSERT INTO registration_request (reference, status, step, draft_key, civility, first_name, last_name, "
              "email, postal_code, phone, expectations, mandate_year, dietary, dietary_details, disability, "
              "consent_carpool, consent_mailing, consent_image, cgv_accepted, waiting_list, confirmation_nonce, "
              "reason, created_at) SELECT 'BR-' || g, 'draft', 1, '', '', 'Léa', 'Brouillon', '', '', '', '', '', '', "
              f"'', FALSE, '', '', '', FALSE, FALSE, '', '', now() - interval '40 days' FROM generate_series(1, {n // 50}) g")


async def _evidence(raw, alp001: int) -> None:
    # The evidence of the accounts pseudonymised a year ago: a session ended four years ago, two slots.
    session = (await raw(
        "INSERT INTO training_session (establishment, full_name, short_name, visible, start_date, end_date, "
        "id_number, code, certificate_text, certificate_version, signing_grace, place, remote_url, contact, "
        "what_to_bring, auto_convocations, progress_block, discussion_block, delivery, fse_cofinanced, search_text, "
        "created_at) VALUES ({}, 'Session ancienne', 'ancienne', TRUE, current_date - 1461, current_date - 1461, '', "
        "'22R25S1', '', 1, 30, '', '', '', '', FALSE, FALSE, FALSE, 'own', FALSE, '', now()) RETURNING id",
        alp001))[0]["id"]
    await raw("INSERT INTO session_slot (session, day, starts, ends) VALUES ({}, current_date - 1461, '09:00', "
              "'12:30'), ({}, current_date - 1461, '13:30', '17:00')", session, session)
    await raw("INSERT INTO enrolment (session, \"user\", role, active, enrolled_at, required_done, required_total, "
              "percent, completed_at, invitation_sequence, attended_minutes, trainee_type) "
              "SELECT {}, id, 'learner', TRUE, now(), 0, 0, 100, now(), 0, 420, '' FROM app_user "
              "WHERE pseudonymised_at IS NOT NULL", session)
    for table, extra_cols, extra_vals in (
            ("attendance_record", "method, signature, client_hash, reason", "'qr', 'iVBORw0KGgo', '', ''"),
            ("attendance", "record", "NULL")):
        await raw(f"INSERT INTO {table} (enrolment, slot, status, recorded_at, {extra_cols}) "
                  f"SELECT e.id, sl.id, 'present', now(), {extra_vals} FROM enrolment e JOIN session_slot sl "
                  "ON sl.session = e.session WHERE e.session = {}", session)
    await raw("INSERT INTO certificate (enrolment, kind, version, code, issued_at, snapshot, pdf_sha256, status, "
              "revoked_reason, render_attempts, render_error) SELECT id, 'completion', 1, 'RB' || id, now(), "
              "{}, '', 'valid', '', 0, '' FROM enrolment WHERE session = {}", '{"nom": "Prénom Nom"}', session)


async def main() -> None:
    from app import db
    from app.dates import now
    from app.services.retention import job, settings as retention_settings

    await db.open_pool()
    t0 = time.perf_counter()
    seeded = await seed(ACCOUNTS)
    print(f"{ACCOUNTS:,} accounts seeded (with roles, evidence, mails, drafts) in {time.perf_counter() - t0:.1f} s")
    n = ACCOUNTS
    expected = {  # by i % 20 over 1..n; the managers (protected) are among the never logged in
        "warned": sum(1 for g in range(1, n + 1) if 12 <= g % 20 <= 16) - seeded["managers"],
        "pseudonymised": sum(1 for g in range(1, n + 1) if g % 20 in (17, 18)),
        "certificates_deleted": sum(1 for g in range(1, n + 1) if g % 20 == 19),
    }
    work = _setup.Work()
    runs = []
    for label in ("first run", "second run (same day)"):
        # job.run's steps one by one (the same calls, in the same order), each timed.
        periods, t, report, steps = await retention_settings.periods(), now(), {}, []
        work.start()
        t0 = time.perf_counter()
        for step in (job.warn, job.pseudonymise, job.delete_evidence, job.delete_registrations, job.purge_mails):
            s0 = time.perf_counter()
            report.update(await step(t, periods))
            steps.append(f"{step.__name__} {time.perf_counter() - s0:.1f} s")
        wall, cpu = time.perf_counter() - t0, work.stop()
        report = {key: report.get(key, 0) for key in job.REPORT_LABELS}
        runs.append(report)
        print(f"{label}: {wall:.2f} s wall, {cpu / 1000:.2f} s CPU (process + PostgreSQL backends); {_setup.load()}")
        print("  steps (wall): " + ", ".join(steps))
        print("  " + ", ".join(f"{k} {v:,}" for k, v in report.items()))
    first, second = runs
    # At most job.WARN_PER_RUN warned a night, the rest on the next nights (the same-day second run
    # included: it is another night's batch).
    backlog = expected["warned"]
    expected["warned"] = min(backlog, job.WARN_PER_RUN)
    _setup.check(first["warned"] == expected["warned"] and first["protected"] == seeded["managers"],
                 f"warned {first['warned']} / protected {first['protected']}, expected {expected['warned']} / "
                 f"{seeded['managers']}")
    _setup.check(first["pseudonymised"] == expected["pseudonymised"],
                 f"pseudonymised {first['pseudonymised']}, expected {expected['pseudonymised']}")
    _setup.check(first["certificates_deleted"] == expected["certificates_deleted"],
                 f"certificates deleted {first['certificates_deleted']}, expected {expected['certificates_deleted']}")
    _setup.check(first["mail_bodies_emptied"] == n // 10 and first["drafts_deleted"] == n // 50, f"first run {first}")
    again = min(backlog - expected["warned"], job.WARN_PER_RUN)
    _setup.check(second["warned"] == again and second["mailed"] == again
                 and all(v == 0 for k, v in second.items() if k not in ("protected", "warned", "mailed")),
                 f"second run changed something else than the next warnings: {second}")


if __name__ == "__main__":
    _setup.run(main)
