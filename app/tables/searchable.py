"""Tables whose lists are searched accent- and case-insensitively keep a folded copy of the
searched columns in ``search_text`` (the same search on PostgreSQL and SQLite). A new row fills it
itself; services that update the searched columns update it too (see the ``save_*`` functions)."""

from __future__ import annotations

from app.services.text import search_text


class Searchable:
    SEARCHED: tuple[str, ...] = ()
    # How the searched columns become ``search_text`` (organisations: ``loose_search_text``).
    SEARCH_TEXT = staticmethod(search_text)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not getattr(self, "search_text", "") and not getattr(self, "_exists_in_db", False):
            self.search_text = self.SEARCH_TEXT(*(getattr(self, name, "") for name in self.SEARCHED))
