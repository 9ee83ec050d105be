"""Émargement (issue 22), over HTTP: the learner's signature by QR code (through the login) and from
the home page, every refusal with its French message and nothing recorded, two submits at once,
the trainer's page (QR code, live list, marks), the scope of a slot (the same 404 as missing)."""

import asyncio
import re

import pytest

from app.services.signing import window
from app.tables.evidence import AttendanceRecord
from app.tables.learning import Attendance
from tests.helpers import csrf_token, login, post_form, text
from tests.signing_helpers import PARIS, PASSWORD, built, data_url, png, set_clock


async def _records(**where):
    rows = await AttendanceRecord.select().order_by(AttendanceRecord.id)
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


async def test_a_scan_before_login_comes_back_to_the_slot_and_is_recorded_qr(client, clock):
    b = await built()
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 3)
    scanned = await client.get(f"/s/{slot}/{window.qr_token(slot)}")
    assert scanned.status_code == 303
    target = scanned.headers["location"]
    assert re.fullmatch(rf"/signer/{slot}\?p=[\w.\-]+", target)
    to_login = await client.get(target)  # not logged in yet
    assert to_login.status_code == 303 and to_login.headers["location"].startswith("/connexion?next=")
    logged = await post_form(client, "/connexion", {"username": b.usernames[0], "password": PASSWORD,
                                                    "next": target})
    assert logged.status_code == 303 and logged.headers["location"] == target  # back to the same slot
    page = await client.get(target)
    assert page.status_code == 200 and "Signer ma présence" in text(page.text)
    assert "htmx" not in page.text and len(page.content) < 30_000  # the light page
    p = re.search(r'name="p" value="([^"]+)"', page.text)[1]
    done = await post_form(client, f"/signer/{slot}", {"p": p, "signature": data_url()})
    assert done.status_code == 200
    assert re.search(r"Présence enregistrée, \d+ \w+\.? 20\d\d, 09:03", text(done.text)), text(done.text)
    (record,) = await _records()
    assert record["method"] == "qr" and record["status"] == "present" and record["slot"] == slot
    assert record["enrolment"] == b.enrolments[0] and record["signature"] and not record["signature"].startswith("data:")
    assert re.fullmatch(r"[0-9a-f]{64}", record["client_hash"])
    projection = await Attendance.select().where(Attendance.enrolment == b.enrolments[0]).first()
    assert projection["status"] == "present" and projection["record"] == record["id"]
    # A second signature: refused with the time of the first, nothing recorded twice.
    again = await post_form(client, f"/signer/{slot}", {"p": p, "signature": data_url()})
    assert again.status_code == 409 and "Vous avez déjà signé ce créneau à 09:03." in text(again.text)
    assert len(await _records()) == 1


async def test_the_home_page_offers_signing_only_during_an_open_slot(client, clock):
    b = await built()
    slot = b.slots[0]
    await login(client, b.usernames[1])
    set_clock(clock, b.day, 8, 29)  # the window opens at 08:30
    assert "Signer ma présence" not in text((await client.get("/")).text)
    early = await post_form(client, f"/signer/{slot}", {"signature": ""})
    assert early.status_code == 409 and "pas encore ouvert" in text(early.text)
    set_clock(clock, b.day, 8, 30)
    home = await client.get("/")
    assert "Signer ma présence" in text(home.text) and f'href="/signer/{slot}"' in home.text
    assert f'href="/signer/{b.slots[1]}"' not in home.text  # never a future slot (the afternoon)
    done = await post_form(client, f"/signer/{slot}", {"signature": ""})  # no JS: the confirmation alone
    assert done.status_code == 200 and "Présence enregistrée" in text(done.text)
    (record,) = await _records()
    assert record["method"] == "link" and record["signature"] == ""
    home = await client.get("/")  # signed: no more button, what was recorded instead
    assert f'href="/signer/{slot}"' not in home.text
    assert f"Présence enregistrée à {record['recorded_at'].astimezone(PARIS):%H:%M}" in text(home.text)


@pytest.mark.parametrize("grace", [0, 30])
async def test_window_edges_with_the_sessions_grace(client, clock, grace):
    from app.tables.catalogue import TrainingSession

    b = await built(learners=2)
    await TrainingSession.update({TrainingSession.signing_grace: grace}).where(TrainingSession.id == b.session)
    slot = b.slots[0]  # 09:00–12:30
    await login(client, b.usernames[0])
    set_clock(clock, b.day, 12, 30 + grace, 1)
    late = await post_form(client, f"/signer/{slot}", {"signature": ""})
    assert late.status_code == 409 and "L'émargement de ce créneau est terminé" in text(late.text)
    set_clock(clock, b.day, 12, 30 + grace - 1, 59)
    on_time = await post_form(client, f"/signer/{slot}", {"signature": ""})
    assert on_time.status_code == 200
    assert len(await _records()) == 1


async def test_qr_codes_rotate_and_expire_with_the_clock(client, clock):
    b = await built(learners=1)
    slot, other = b.slots
    set_clock(clock, b.day, 9, 0, 1)
    token = window.qr_token(slot)
    assert (await client.get(f"/s/{slot}/{token}")).status_code == 303
    clock.advance(30)  # the next code is shown: the previous one still works
    assert window.qr_token(slot) != token
    assert (await client.get(f"/s/{slot}/{token}")).status_code == 303
    clock.advance(30)  # a minute later (a screenshot sent to a friend): refused
    expired = await client.get(f"/s/{slot}/{token}")
    assert expired.status_code == 400 and "Ce code QR a expiré : scannez le code affiché maintenant." in text(expired.text)
    # Another slot's code, a forged one, a future one: refused; nothing was recorded by any of it.
    for bad in (f"/s/{other}/{window.qr_token(slot)}", f"/s/{slot}/{token.split('.')[0]}.forged",
                f"/s/{slot}/{window.qr_token(slot).split('.')[0]}x.abc", f"/s/{slot}/x"):
        response = await client.get(bad)
        assert response.status_code == 400 and "n'est pas valide pour ce créneau" in text(response.text), bad
    assert await AttendanceRecord.count() == 0


async def test_a_pass_is_bound_to_its_slot_and_expires(client, clock):
    b = await built(learners=1)
    slot, other = b.slots
    set_clock(clock, b.day, 9, 0)
    p = (await client.get(f"/s/{slot}/{window.qr_token(slot)}")).headers["location"].split("p=")[1]
    await login(client, b.usernames[0])
    wrong = await client.get(f"/signer/{other}?p={p}")
    assert wrong.status_code == 400 and "n'est pas celui de ce créneau" in text(wrong.text)
    refused = await post_form(client, f"/signer/{other}", {"p": p, "signature": ""})
    assert refused.status_code == 400
    clock.advance(window.PASS_SECONDS + 1)
    stale = await post_form(client, f"/signer/{slot}", {"p": p, "signature": ""})
    assert stale.status_code == 400 and await AttendanceRecord.count() == 0


async def test_a_forwarded_pass_is_refused_on_another_device(client, new_client, clock):
    b = await built(learners=2)
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 0)
    client.headers["user-agent"] = "Learner's phone"
    target = (await client.get(f"/s/{slot}/{window.qr_token(slot)}")).headers["location"]
    async with new_client() as friend:  # the link sent to someone absent, on their own phone
        friend.headers["user-agent"] = "Friend's phone"
        await login(friend, b.usernames[1])
        page = await friend.get(target)
        assert page.status_code == 400 and "ouvert sur un autre appareil que celui qui a scanné" in text(page.text)
        assert 'name="p" value=""' in page.text or 'name="p"' not in page.text
        p = target.split("p=")[1]
        sent = await post_form(friend, f"/signer/{slot}", {"p": p, "signature": data_url()})
        assert sent.status_code == 400 and "scannez vous-même le code affiché dans la salle" in text(sent.text)
    assert await AttendanceRecord.count() == 0
    # The device that scanned signs with it (recorded « qr »).
    await login(client, b.usernames[0])
    assert (await post_form(client, f"/signer/{slot}", {"p": target.split("p=")[1], "signature": ""})).status_code == 200
    assert [r["method"] for r in await _records()] == ["qr"]


async def test_tokens_and_passes_that_are_not_ascii_are_refused_not_a_crash(client, clock):
    b = await built(learners=1)
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 0)
    for url in (f"/s/{slot}/1.%C3%A9", f"/s/{slot}/{window.qr_token(slot).split('.')[0]}.%C3%A9"):
        response = await client.get(url)
        assert response.status_code == 400 and "n'est pas valide pour ce créneau" in text(response.text), url
    await login(client, b.usernames[0])
    for p in ("1.%C3%A9", "1.%C3%A9.%C3%A9", "%C3%A9"):
        response = await client.get(f"/signer/{slot}?p={p}")
        assert response.status_code == 400 and "n'est pas celui de ce créneau" in text(response.text), p
    for p in ("1.é", "1.é.é", f"{10 ** 11}.é.x"):
        response = await post_form(client, f"/signer/{slot}", {"p": p, "signature": ""})
        assert response.status_code == 400 and "n'est pas celui de ce créneau" in text(response.text), p
    assert await AttendanceRecord.count() == 0


async def test_bad_signatures_and_strangers_are_refused_and_nothing_recorded(client, new_client, clock):
    b = await built(learners=1)
    stranger = await built(learners=1)
    slot = b.slots[0]
    set_clock(clock, b.day, 10, 0)
    await login(client, b.usernames[0])
    for bad in ("data:image/jpeg;base64," + data_url()[22:], "data:image/png;base64,%%%",
                "data:image/png;base64," + "QUJD" * 10, data_url(png(3000, 100)), data_url(b"\x89PNG\r\n\x1a\n" + b"0" * 70_000),
                data_url(png()[:33] + b"junk" * 50), data_url(png()[:-40])):  # a sound header, then junk; truncated
        response = await post_form(client, f"/signer/{slot}", {"signature": bad})
        assert response.status_code == 422 and "signature" in text(response.text).lower(), bad[:40]
    async with new_client() as other:
        await login(other, stranger.usernames[0])  # enrolled in another session
        for response in (await other.get(f"/signer/{slot}"), await post_form(other, f"/signer/{slot}", {"signature": ""}),
                         await other.get("/signer/987654321")):
            assert response.status_code == 404
            assert "vous n'êtes pas inscrit à sa session" in text(response.text)
    assert await AttendanceRecord.count() == 0 and await Attendance.count() == 0


async def test_two_submits_at_once_make_one_record(client, new_client, clock):
    b = await built(learners=1)
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 10)
    await login(client, b.usernames[0])
    async with new_client() as phone:
        await login(phone, b.usernames[0])
        answers = await asyncio.gather(*[post_form(c, f"/signer/{slot}", {"signature": data_url()}) for c in (client, phone)])
    assert sorted(a.status_code for a in answers) == [200, 409]
    assert len(await _records()) == 1 and await Attendance.count() == 1


async def test_the_trainers_page_shows_the_code_and_the_list_and_marks(client, new_client, clock):
    b = await built(learners=3)
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 0)
    await login(client, b.trainer_username)
    page = await client.get(f"/creneaux/{slot}/emargement")
    assert page.status_code == 200 and "<svg" in page.text
    qr_url = re.search(r'data-url="([^"]+)"', page.text)[1]
    assert qr_url.startswith(f"http://testserver.local/s/{slot}/")
    assert f'data-hx-get="/creneaux/{slot}/emargement/qr"' in page.text and 'data-hx-trigger="every 30s"' in page.text
    assert f'data-hx-get="/creneaux/{slot}/emargement/liste"' in page.text and "Actualiser la liste" in text(page.text)
    partial = await client.get(f"/creneaux/{slot}/emargement/qr", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="signing-qr"') and "<html" not in partial.text
    assert text(page.text).count("En attente") == 3
    # « Marquer présent » (no phone), from the list with htmx: the list again.
    marked = await post_form(client, f"/creneaux/{slot}/emargement/marquer",
                             {"enrolment": b.enrolments[0], "status": "present", "from": "list"}, htmx=True)
    assert marked.status_code == 200 and marked.text.lstrip().startswith('<div id="signing-list"')
    assert "présent (marqué par le formateur)" in text(marked.text)
    # « Excusé… » of a row: the excuse form with that learner chosen.
    assert f'href="/creneaux/{slot}/emargement?excuse={b.enrolments[1]}#excuse-title"' in page.text
    chosen = await client.get(f"/creneaux/{slot}/emargement?excuse={b.enrolments[1]}")
    assert f'<option value="{b.enrolments[1]}" selected>' in chosen.text and "autofocus" in chosen.text
    # « Excusé » without a reason: refused, nothing recorded; with one: recorded (JS off: redirect).
    refused = await post_form(client, f"/creneaux/{slot}/emargement/marquer", {"enrolment": b.enrolments[1], "status": "excused"})
    assert refused.status_code == 422 and "Indiquez le motif de l'absence excusée." in text(refused.text)
    excused = await post_form(client, f"/creneaux/{slot}/emargement/marquer",
                              {"enrolment": b.enrolments[1], "status": "excused", "reason": "Rendez-vous médical"})
    assert excused.status_code == 303
    records = await _records()
    assert [(r["enrolment"], r["status"], r["method"], r["recorded_by"], r["reason"]) for r in records] == [
        (b.enrolments[0], "present", "trainer", b.trainer, ""),
        (b.enrolments[1], "excused", "trainer", b.trainer, "Rendez-vous médical")]
    listing = await client.get(f"/creneaux/{slot}/emargement/liste", headers={"HX-Request": "true"})
    assert "Rendez-vous médical" in listing.text and "formateur" in text(listing.text)
    # A learner's own signature is not overwritten by a mark.
    async with new_client() as phone:
        await login(phone, b.usernames[2])
        assert (await post_form(phone, f"/signer/{slot}", {"signature": data_url()})).status_code == 200
    over = await post_form(client, f"/creneaux/{slot}/emargement/marquer", {"enrolment": b.enrolments[2], "status": "excused",
                                                                         "reason": "Erreur"})
    assert over.status_code == 409 and "a déjà signé à 09:00" in text(over.text)
    assert await AttendanceRecord.count() == 3


async def test_a_slot_is_reached_only_by_its_trainers_and_managers_in_scope(client, new_client, clock):
    b = await built(learners=1)
    elsewhere = await built(learners=1, establishment="DAM001")
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 0)
    urls = [f"/creneaux/{slot}/emargement", f"/creneaux/{slot}/emargement/liste", f"/creneaux/{slot}/emargement/qr"]
    posts = [f"/creneaux/{slot}/emargement/marquer", f"/creneaux/{slot}/cloturer"]
    await login(client, elsewhere.trainer_username)  # another session's trainer
    missing = await client.get("/creneaux/987654321/emargement")
    assert missing.status_code == 404 and "Créneau introuvable." in text(missing.text)
    for u in urls:
        response = await client.get(u)
        assert response.status_code == 404 and "Créneau introuvable." in text(response.text), u
    for u in posts:
        response = await post_form(client, u, {"enrolment": b.enrolments[0], "status": "present", "certified": "1"})
        assert response.status_code == 404 and "Créneau introuvable." in text(response.text), u
    async with new_client() as dam:
        await login(dam, "dam001.get")  # a manager of another establishment
        for u in urls:
            response = await dam.get(u)
            assert response.status_code == 404 and "Créneau introuvable." in text(response.text), u
    async with new_client() as manager:
        await login(manager, "alp001.get")
        assert (await manager.get(urls[0])).status_code == 200
    assert await AttendanceRecord.count() == 0


async def test_a_managers_mark_is_recorded_as_the_managers(client, clock):
    """A manager in scope marking from the slot's page is none of its trainers: the record says « manager »
    (and who), never « trainer »."""
    b = await built(learners=1)
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 0)
    await login(client, "alp001.get")
    marked = await post_form(client, f"/creneaux/{slot}/emargement/marquer",
                             {"enrolment": b.enrolments[0], "status": "present", "from": "list"}, htmx=True)
    assert marked.status_code == 200 and "présent (marqué par la gestion)" in text(marked.text)
    [record] = await _records()
    assert record["method"] == "manager" and record["recorded_by"] != b.trainer


async def test_the_light_page_is_small_and_csrf_protected(client, clock):
    b = await built(learners=1)
    set_clock(clock, b.day, 9, 0)
    await login(client, b.usernames[0])
    page = await client.get(f"/signer/{b.slots[0]}")
    assert "data-signature-pad" in page.text and "<canvas" in page.text and len(page.content) < 10_000
    await csrf_token(client)
    forged = await client.post(f"/signer/{b.slots[0]}", data={"signature": ""})
    assert forged.status_code == 403 and await AttendanceRecord.count() == 0


async def test_a_cancelled_sessions_slot_cannot_be_signed(client, clock):
    from app.dates import now
    from app.tables.catalogue import TrainingSession

    b = await built(learners=1)
    await TrainingSession.update({TrainingSession.cancelled_at: now()}).where(TrainingSession.id == b.session)
    set_clock(clock, b.day, 9, 0)
    await login(client, b.usernames[0])
    assert "Signer ma présence" not in text((await client.get("/")).text)
    refused = await post_form(client, f"/signer/{b.slots[0]}", {"signature": ""})
    assert refused.status_code == 409 and "Cette session est annulée" in text(refused.text)
    assert await AttendanceRecord.count() == 0


async def test_marks_at_once_and_a_mark_racing_a_signature_make_one_state(client, new_client, clock):
    """A double click on « Marquer présent » (two tabs, two trainers) records one mark; a mark that
    races the learner's own signature never goes over it. (The hostile probe's races, issue 22.)"""
    b = await built(learners=2)
    slot = b.slots[0]
    set_clock(clock, b.day, 9, 10)
    await login(client, b.trainer_username)
    url = f"/creneaux/{slot}/emargement/marquer"
    async with new_client() as tab:
        await login(tab, b.trainer_username)
        answers = await asyncio.gather(*[post_form(c, url, {"enrolment": b.enrolments[0], "status": "present"})
                                         for c in (client, tab, client, tab)])
    assert sorted(a.status_code for a in answers).count(303) == 1
    assert len([r for r in await _records() if r["enrolment"] == b.enrolments[0]]) == 1

    async with new_client() as phone:
        await login(phone, b.usernames[1])
        signed, *marks = await asyncio.gather(
            post_form(phone, f"/signer/{slot}", {"signature": data_url()}),
            *[post_form(client, url, {"enrolment": b.enrolments[1], "status": "excused", "reason": "Malade"})
              for _ in range(3)])
    state = await Attendance.select().where((Attendance.enrolment == b.enrolments[1]) & (Attendance.slot == slot)).first()
    mine = [r for r in await _records() if r["enrolment"] == b.enrolments[1]]
    if signed.status_code == 200:  # the signature came first: no mark went over it
        assert state["status"] == "present" and [r["method"] for r in mine] == ["link"]
        assert all(m.status_code == 409 for m in marks)
    else:  # a mark came first: the signature was refused, one excuse kept
        assert state["status"] == "excused" and [r["method"] for r in mine] == ["trainer"]
