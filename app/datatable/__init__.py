"""The one table helper: filters from the query string, sort, pagination, per-page choice and
an Excel export of every filtered row. Every list screen declares a ``DataTable`` and renders it
with the ``data_table`` macro of ``templates/_table.html``.

Scope is applied here, from the caller's ``Scope``, on the column the table names as holding the
establishment: a list can never show, count or export a row outside the caller's establishments.

``model.py``: columns, filters, a list's state and page, the shared limits; ``table.py``: the
``DataTable`` query and export; ``writers.py``: the Excel and CSV files.
"""

from app.datatable.model import (  # noqa: F401 (the names the lists, controllers and jobs use)
    COUNT_CAP,
    EXPORT_CHUNK,
    EXPORT_FORMATS,
    FORMULA_PREFIXES,
    PER_PAGE_CHOICES,
    SUGGESTIONS,
    About,
    Choices,
    Col,
    Filter,
    TablePage,
    TableState,
    choice_filter,
)
from app.datatable.table import DataTable, Pick, pick  # noqa: F401
from app.datatable.writers import CsvWriter, XlsxWriter, _cell, neutralise  # noqa: F401
