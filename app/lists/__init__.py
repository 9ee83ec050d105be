"""The list definitions (``DataTable``s): what each list screen shows, filters, sorts and exports.

The app's controllers and the worker's export job both import ``REGISTRY`` from here, so a large
export runs in a standalone ``tremplin worker`` exactly as the page shows it. Every module of this
package registers its lists when imported; ``all_lists()`` imports them all.
"""

from __future__ import annotations

import importlib
import pkgutil

from app.datatable import DataTable
from app.dates import local_now

REGISTRY: dict[str, DataTable] = {}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The content type of an export, by format: sent with the inline file and stored with the job's.
MEDIA_TYPES = {"xlsx": XLSX, "csv": "text/csv"}  # the framework adds the one « charset=utf-8 » of a text/*


def export_filename(table: DataTable, fmt: str = "xlsx") -> str:
    return f"{table.export_filename}_{local_now():%Y%m%d_%H%M}.{fmt}"


def register(table: DataTable) -> DataTable:
    REGISTRY[table.name] = table
    return table


def all_lists() -> dict[str, DataTable]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY
