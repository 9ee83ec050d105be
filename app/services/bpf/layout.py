"""The frames of Cerfa 10443 as laid out on the page and in the Excel file: their titles, their
columns and their lines (a figure key each), in the form's wording; and both Excel files."""

from __future__ import annotations

import io

from app.datatable.writers import neutralise
from app.services.bpf.compute import OBJECTIVES
from app.services.bpf.labels import COMMON_NSF, OBJECTIVE_LABELS

NSF_NAMES = dict(COMMON_NSF)


def hours(minutes: int | None) -> int:
    """Hours as the Cerfa asks for them: whole hours, half up."""
    return (int(minutes or 0) + 30) // 60


def hours_minutes(minutes: int | None) -> str:
    m = int(minutes or 0)
    return f"{m // 60} h {m % 60:02d}" if m % 60 else f"{m // 60} h"


ROUNDING_NOTE = "heures arrondies à l'heure la plus proche, ligne par ligne"


def rounded_hours(figures: dict, key: str) -> int:
    """The hours the frame shows for a figure: its minutes rounded to the nearest hour; a total's
    hours are the sum of its lines' rounded hours (the Cerfa's totals are sums)."""
    figure = figures.get(key, {})
    if figure.get("parts"):
        return sum(hours(figures.get(p, {}).get("minutes", 0)) for p in figure["parts"])
    return hours(figure.get("minutes", 0))


def frames(figures: dict) -> list[dict]:
    """Frames E, F-1 to F-4 and G: {"code", "title", "columns", "note", "lines": [{"key", "label",
    "level" (0 line, 1 « dont », 2 total), "people", "minutes", "hours"}]}."""
    def line(key: str, label: str, level: int = 0) -> dict:
        figure = figures.get(key, {"people": 0, "minutes": 0})
        return {"key": key, "label": label, "level": level, "people": figure.get("people", 0),
                "minutes": figure.get("minutes", 0), "hours": rounded_hours(figures, key)}

    def shown(key: str) -> bool:
        figure = figures.get(key, {})
        return bool(figure.get("people") or figure.get("minutes"))

    trainees = ["Nombre de stagiaires", "Nombre total d'heures de formation suivies par les stagiaires"]
    f3 = [line(f"f3.{o}", OBJECTIVE_LABELS[o]) for o in OBJECTIVES if o]
    if shown("f3.missing"):
        f3.append(line("f3.missing", "Objectif non renseigné (à compléter sur le modèle de formation)"))
    f4 = []
    rank = 1
    while f"f4.{rank}" in figures:
        code = figures[f"f4.{rank}"].get("code", "")
        name = NSF_NAMES.get(code[:3], "")
        f4.append(line(f"f4.{rank}", f"{code} — {name}" if name else f"Code NSF {code}"))
        rank += 1
    f1 = [
        line("f1.a", "a. Salariés d'employeurs privés hors apprentis"),
        line("f1.b", "b. Apprentis"),
        line("f1.c", "c. Personnes en recherche d'emploi formées par votre organisme de formation"),
        line("f1.d", "d. Particuliers à leurs propres frais formés par votre organisme de formation"),
        line("f1.e", "e. Autres stagiaires"),
        line("f1.e_public", "dont agents publics", 1),
        line("f1.e_elected", "dont élus", 1),
    ]
    if shown("f1.missing"):
        f1.append(line("f1.missing", "Type de stagiaire non renseigné (à compléter avant le dépôt)"))
    f1 += [line("f1.total", "Total (F-1)", 2),
           line("f1.remote", "dont stagiaires ayant suivi une action en tout ou partie à distance", 1)]
    return [
        {"code": "E", "title": "E. Personnes dispensant des heures de formation",
         "columns": ["Nombre de formateurs", "Nombre d'heures de formation dispensées"],
         "note": "Heures des créneaux de l'année où au moins un stagiaire était présent ; un créneau compte "
                 "une seule fois, à la ligne des formateurs internes si l'un de ses formateurs l'est. Un créneau "
                 "sans formateur désigné est animé par tous les formateurs de sa session.",
         "lines": [line("e.internal", "Personnes de votre organisme dispensant des heures de formation"),
                   line("e.external", "Personnes extérieures à votre organisme auxquelles vous avez eu recours "
                                      "pour dispenser des heures de formation"),
                   line("e.total", "Total (E)", 2)]},
        {"code": "F-1", "title": "F-1. Type de stagiaires de l'organisme", "columns": trainees, "lines": f1},
        {"code": "F-2", "title": "F-2. Activité sous-traitée de l'organisme de formation", "columns": trainees,
         "lines": [line("f2", "Formations confiées par votre organisme à un autre organisme de formation")]},
        {"code": "F-3", "title": "F-3. Objectif général des prestations dispensées", "columns": trainees,
         "lines": f3 + [line("f3.total", "Total (F-3)", 2)]},
        {"code": "F-4", "title": "F-4. Spécialités de formation", "columns": trainees,
         "note": "Les cinq spécialités qui totalisent le plus d'heures, puis les autres.",
         "lines": f4 + [line("f4.others", "Autres spécialités"), line("f4.total", "Total (F-4)", 2)]},
        {"code": "G", "title": "G. Bilan pédagogique : stagiaires dont la formation a été confiée à votre "
                               "organisme par un autre organisme de formation", "columns": trainees,
         "lines": [line("g", "Formations confiées à votre organisme par un autre organisme de formation")]},
    ]


def bpf_xlsx(year: int, figures: dict, computed: str) -> bytes:
    """The BPF of the year laid out like the Cerfa frames, one sheet; every text written as text."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet(f"BPF {year}")
    bold = book.add_format({"bold": True})
    title = book.add_format({"bold": True, "font_size": 14})
    head = book.add_format({"bold": True, "bg_color": "#E8EEF4", "text_wrap": True, "border": 1})
    cell = book.add_format({"border": 1, "text_wrap": True})
    sub = book.add_format({"border": 1, "indent": 2, "italic": True, "text_wrap": True})
    total = book.add_format({"border": 1, "bold": True})
    sheet.set_column(0, 0, 80)
    sheet.set_column(1, 2, 22)
    sheet.write_string(0, 0, f"Bilan pédagogique et financier {year} (Cerfa 10443) — cadres E, F et G", title)
    sheet.write_string(1, 0, neutralise(f"Heures réellement suivies (émargement). Calculé le {computed}."))
    row = 3
    for frame in frames(figures):
        sheet.write_string(row, 0, frame["title"], bold)
        row += 1
        sheet.write_string(row, 0, "", head)
        for col, name in enumerate(frame["columns"], start=1):
            sheet.write_string(row, col, name, head)
        row += 1
        for line in frame["lines"]:
            style = {0: cell, 1: sub, 2: total}[line["level"]]
            sheet.write_string(row, 0, neutralise(line["label"]), style)
            sheet.write_number(row, 1, line["people"], style)
            sheet.write_number(row, 2, line["hours"], style)
            row += 1
        row += 1
    book.close()
    return buffer.getvalue()


ELUS_COLUMNS = ["Intitulé de la formation", "Lieu", "Dates", "Durée (heures)", "Nombre d'élus participants",
                "Formateurs"]


def elus_rows(trainings: list[dict]) -> list[list]:
    out = []
    for t in trainings:
        first, last = t.get("first_day", ""), t.get("last_day", "")
        dates = _fr(first) if first == last else f"du {_fr(first)} au {_fr(last)}"
        out.append([t["title"], t["place"] or "", dates, decimal_hours(t["planned_minutes"]), t["people"],
                    ", ".join(t["trainers"])])
    return out


def decimal_hours(minutes: int | None) -> int | float:
    """Hours as a number: an int when whole (14, never 14.0), else at most two decimals (3.5). The page
    shows it the French way (« 3,5 ») and Excel keeps it a number (shown in the reader's locale)."""
    value = round(int(minutes or 0) / 60, 2)
    return int(value) if value == int(value) else value


def _fr(iso: str) -> str:
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}" if len(iso) >= 10 else iso


def elus_xlsx(year: int, trainings: list[dict], computed: str) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet(f"Élus {year}")
    title = book.add_format({"bold": True, "font_size": 14})
    head = book.add_format({"bold": True, "bg_color": "#E8EEF4", "text_wrap": True, "border": 1})
    cell = book.add_format({"border": 1, "text_wrap": True})
    sheet.set_column(0, 0, 50)
    sheet.set_column(1, 1, 30)
    sheet.set_column(2, 2, 26)
    sheet.set_column(3, 4, 14)
    sheet.set_column(5, 5, 40)
    sheet.write_string(0, 0, f"Formation des élus — rapport annuel {year} (CGCT, art. R1221-22-1)", title)
    sheet.write_string(1, 0, neutralise(f"Calculé le {computed}."))
    for col, name in enumerate(ELUS_COLUMNS):
        sheet.write_string(3, col, name, head)
    for r, values in enumerate(elus_rows(trainings), start=4):
        for col, value in enumerate(values):
            if isinstance(value, (int, float)):
                sheet.write_number(r, col, value, cell)
            else:
                sheet.write_string(r, col, neutralise(str(value)), cell)
    book.close()
    return buffer.getvalue()
