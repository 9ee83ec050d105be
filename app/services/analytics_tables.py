"""The analytics dashboard's tables as the page, the CSV and the Excel show them (app/services/analytics.py
computes the figures)."""

from __future__ import annotations

from app.datatable import CsvWriter, XlsxWriter

def _days(value):
    return None if value is None else round(value, 1)


DIMENSIONS = {
    "delegation": "Par délégation",
    "establishment": "Par établissement",
    "template": "Par cours modèle",
    "session": "Par session",
    "month": "Par mois",
}

MEASURE_HEADERS = ["Inscrits", "Ont participé", "Jamais commencé", "Sessions achevées", "Certificats obtenus",
                   "Taux d'achèvement (%)",
                   "Durée médiane (jours)", "80e centile (jours)"]


def table_rows(result: dict, dim: str) -> tuple[list[str], list[list]]:
    """(headers, rows) of one table, as downloaded."""
    if dim == "month":
        return ["Mois", "Inscriptions", "Sessions achevées"], [
            [r["month"], r["enrolled_count"], r["completed_count"]] for r in result["months"]]
    label = {"delegation": "Délégation", "establishment": "Établissement", "template": "Cours modèle",
             "session": "Session"}[dim]
    rows = [[r["code"], r["name"], r["enrolled_count"], r["started_count"], r["never_started"], r["completed_count"],
             r["certified_count"], round(r["completion_rate"], 1), _days(r["median_days"]), _days(r["p80_days"])] for r in result[dim]]
    return ["Code", label, *MEASURE_HEADERS], rows


def summary_rows(result: dict) -> tuple[list[str], list[list]]:
    t = result["totals"]
    return ["Indicateur", "Valeur"], [
        ["Inscrits", t["enrolled_count"]],
        ["Ont participé (au moins une visite)", t["started_count"]],
        ["Taux de participation (%)", round(t["participation_rate"], 1)],
        ["Jamais commencé", t["never_started"]],
        ["Sessions achevées", t["completed_count"]],
        ["Certificats obtenus (valides)", t["certified_count"]],
        ["Taux d'achèvement (%)", round(t["completion_rate"], 1)],
        ["Durée médiane pour achever (jours)", _days(t["median_days"])],
        ["80e centile de la durée (jours)", _days(t["p80_days"])],
    ]


def workbook(result: dict) -> bytes:
    """The whole dashboard as one Excel file, a sheet per table (formula-safe writer)."""
    headers, rows = summary_rows(result)
    writer = XlsxWriter(headers, sheet="Synthèse")
    try:
        writer.write_rows(rows)
        for dim, title in DIMENSIONS.items():
            headers, rows = table_rows(result, dim)
            writer.add_sheet(title, headers)
            writer.write_rows(rows)
        return writer.close()
    finally:
        writer.discard()


def csv_bytes(result: dict, dim: str) -> bytes:
    """The table as every CSV of the app is written (app/datatable/writers.py CsvWriter: « ; », BOM,
    decimal comma, formula-safe)."""
    headers, rows = table_rows(result, dim)
    writer = CsvWriter(headers)
    writer.write_rows(rows)
    return writer.close()
