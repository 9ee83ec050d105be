"""Convocations: the documents of a notice (PDF, calendar invitation) and its mail's text."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from datetime import date, datetime
from email.utils import parseaddr
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from app.dates import date_fr, local_now, now
from app.pdf import bounded
from app.pdf.render import render_pdf_sync
from app.services import outbox, slots
from app.settings import get_settings
from app.tables.convocations import NoticeKind
from app.services.convocations.common import TEMPLATE
from app.services.convocations.facts import events_of, place_lines


# -- documents ---------------------------------------------------------------------------------------
def _safe(text: str) -> str:
    """A file name part: accents dropped (Élodie → Elodie), anything else a dash."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^A-Za-z0-9]+", "-", plain).strip("-") or "x"


def pdf_filename(f: dict) -> str:
    return f"convocation-{f['session_code']}-{_safe(f['last_name'])}-{_safe(f['first_name'])}.pdf"


# The part's METHOD parameter matches the object's (RFC 6047): mail clients then offer to add the
# event (or remove it) instead of only showing a file. The text is UTF-8 (names, places): said so.
ICS_REQUEST = "text/calendar; method=REQUEST; charset=utf-8"
ICS_CANCEL = "text/calendar; method=CANCEL; charset=utf-8"


def ics_filename(f: dict, cancel: bool = False) -> str:
    return f"{'annulation' if cancel else 'invitation'}-{f['session_code']}.ics"


def _documents(kind: str, f: dict, previous: list[dict]) -> tuple[list[outbox.Attachment], list[dict]]:
    """The attachments of a mail and the events it states (CPU-bound: run in a thread)."""
    if kind == NoticeKind.cancellation.value:
        return [outbox.Attachment(ics_filename(f, True), ICS_CANCEL, invitation_ics(f, cancel=previous))], []
    events = events_of(f)
    pdf = bounded.run(render_pdf_sync, TEMPLATE, pdf_context(f))  # in the render pool, with its deadline
    attachments = [outbox.Attachment(pdf_filename(f), "application/pdf", pdf),
                   outbox.Attachment(ics_filename(f), ICS_REQUEST, invitation_ics(f))]
    gone = [(n, e) for n, e in enumerate(previous, start=1) if n > len(events)]
    if gone:
        attachments.append(outbox.Attachment(ics_filename(f, True), ICS_CANCEL,
                                             invitation_ics(f, cancel=previous, only=[n for n, _ in gone])))
    return attachments, events


def practical(session: dict, session_slots: list) -> dict:
    """What a learner needs to attend (the learner's session page, as on the convocation): the
    slots day by day, the place's lines (or « À distance »), the link, the contact, what to bring."""
    return {"jours": slots.by_day(session_slots), "duree": slots.summary(session_slots),
            "lieu": place_lines(session), "lien": session["remote_url"] or "", "contact": session["contact"] or "",
            "a_apporter": [line for line in (session["what_to_bring"] or "").splitlines() if line.strip()]}


def pdf_context(f: dict) -> dict:
    return {"c": {
        "civilite": f["civility"] or "", "prenom": f["first_name"], "nom": f["last_name"],
        "session": f["session_name"], "code": f["session_code"], "etablissement": f["establishment_name"],
        "date_debut": date_fr(f["start_date"]), "date_fin": date_fr(f["end_date"]),
        **practical(f, f["slots"]), "etablie_le": date_fr(local_now()), "formateurs": f.get("trainers") or [],
    }}


async def render_pdf(f: dict) -> bytes:
    return await bounded.run_async(render_pdf_sync, TEMPLATE, pdf_context(f))


def uid(enrolment_id: int, n: int) -> str:
    host = urlparse(get_settings().base_url).hostname or "tremplin"
    return f"convocation-{enrolment_id}-{n}@{host}"


def _moment(value: str, tz: ZoneInfo):
    return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value).replace(tzinfo=tz)


def invitation_ics(f: dict, cancel: list[dict] | None = None, only: list[int] | None = None,
                   publish: bool = False) -> bytes:
    """The enrolment's invitation (METHOD:REQUEST), or the cancellation of the events ``cancel``
    (as last mailed; ``only`` some of their ranks) with METHOD:CANCEL. ``publish``: the calendar file
    downloaded from a page (METHOD:PUBLISH, RFC 5546): it adds the events to a calendar, where REQUEST
    is the organiser's invitation mailed to the attendee."""
    from icalendar import Calendar, Event, vCalAddress, vText

    tz = ZoneInfo(get_settings().timezone)
    settings = get_settings()
    calendar = Calendar()
    calendar.add("prodid", "-//Tremplin//Convocations//FR")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancel is not None else "PUBLISH" if publish else "REQUEST")
    events = cancel if cancel is not None else events_of(f)
    organizer = vCalAddress("mailto:" + (parseaddr(settings.mail.sender)[1] or "ne-pas-repondre@tremplin.local"))
    organizer.params["cn"] = vText(f["establishment_name"])
    attendee = vCalAddress(f"mailto:{f['email']}")
    attendee.params.update({"cn": vText(f"{f['first_name']} {f['last_name']}"), "role": vText("REQ-PARTICIPANT"),
                            "partstat": vText("NEEDS-ACTION"), "rsvp": vText("FALSE")})
    place = place_lines(f)
    description = [f"Session {f['session_code']} — {f['establishment_name']}"]
    if f["remote_url"]:
        description.append(f"Lien de connexion : {f['remote_url']}")
    if f["contact"]:
        description.append(f"Contact : {f['contact']}")
    if f["what_to_bring"]:
        description.append(f"À apporter : {' ; '.join(l.strip() for l in f['what_to_bring'].splitlines() if l.strip())}")
    stamp = now().replace(microsecond=0)
    timed = [e["start"] for e in events if len(e["start"]) > 10]
    if timed:
        calendar.add_component(_vtimezone(settings.timezone, int(min(timed)[:4]), int(max(timed)[:4])))
    for n, e in enumerate(events, start=1):
        if only is not None and n not in only:
            continue
        event = Event()
        event.add("uid", uid(f["id"], n))
        event.add("dtstamp", stamp)
        event.add("sequence", f["invitation_sequence"])
        event.add("dtstart", _moment(e["start"], tz))
        event.add("dtend", _moment(e["end"], tz))
        event.add("summary", f"Formation : {f['session_name']}")
        if place:
            event.add("location", ", ".join(place))
        if f["remote_url"]:
            event.add("url", f["remote_url"])
        event.add("description", "\n".join(description))
        event.add("organizer", organizer)
        event.add("attendee", attendee)
        event.add("status", "CANCELLED" if cancel is not None else "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical()


@lru_cache(maxsize=32)
def _vtimezone(tzid: str, first_year: int, last_year: int):
    """The VTIMEZONE of the events' years (computed once: from 1970 to 2038, as icalendar does by
    default, it is five times larger and took 40 ms an invitation)."""
    from icalendar import Timezone

    return Timezone.from_tzid(tzid, first_date=date(first_year - 1, 1, 1), last_date=date(last_year + 1, 12, 31))


def mail_text(kind: str, f: dict, changed: list[str] | None = None) -> tuple[str, str]:
    title = f["session_name"]
    hello = f"Bonjour {f['first_name']} {f['last_name']},\n\n"
    when = f"du {date_fr(f['start_date'])} au {date_fr(f['end_date'])}"
    details = []
    for day, hours in slots.by_day(f["slots"]):
        details.append(f"- {day} : {hours}")
    place = place_lines(f)
    if place:
        details.append("Lieu : " + ", ".join(place))
    if f["remote_url"]:
        details.append(f"Lien de connexion : {f['remote_url']}")
    if f["contact"]:
        details.append(f"Contact : {f['contact']}")
    if f.get("trainers"):
        details.append("Formateur(s) : " + ", ".join(f["trainers"]))
    facts_text = ("\n".join(details) + "\n\n") if details else ""
    joined = ("Vous trouverez ci-joint votre convocation (PDF) et une invitation à ajouter à votre agenda "
              "(fichier .ics).\n\n")
    sign = f"L'équipe de formation — {f['establishment_name']}\n"
    if kind == NoticeKind.convocation.value:
        return (f"Convocation : {title}",
                hello + f"Vous êtes inscrit(e) à la formation « {title} » (session {f['session_code']}), {when}.\n\n"
                + facts_text + joined + sign)
    if kind == NoticeKind.update.value:
        what = ("Ce qui change :\n" + "\n".join(f"- {line}" for line in changed) + "\n\n") if changed else ""
        return (f"Modification de votre convocation : {title}",
                hello + f"Les horaires, le lieu ou les dates de la formation « {title} » ont changé.\n\n" + what
                + "Voici les informations à jour :\n\n" + facts_text
                + "Votre convocation mise à jour est jointe ; l'invitation jointe met votre agenda à jour.\n\n" + sign)
    if kind == NoticeKind.cancellation.value:
        reason = (f"La session de formation « {title} » ({when}) est annulée."
                  if f["cancelled_at"] else f"Votre inscription à la formation « {title} » ({when}) a été annulée.")
        return (f"Annulation : {title}", hello + reason + "\n\nLe fichier joint retire cette formation de votre "
                "agenda.\n\n" + (f"Pour toute question : {f['contact']}\n\n" if f["contact"] else "") + sign)
    days = "dans 7 jours" if kind == NoticeKind.reminder_7.value else "demain"
    return (f"Rappel : votre formation commence {days} — {title}",
            hello + f"Nous vous rappelons que la formation « {title} » commence {days}, "
            f"le {date_fr(f['start_date'])}.\n\n" + facts_text + joined + sign)
