"""The names of a training session: the seed's nomenclature and what a change of dates does to it.
Apart from the sessions package (which imports convocations and certificates) so that the modules
printing a session's name can import it at their top."""

from __future__ import annotations

import re
from datetime import date


def propose_full_name(start: date | None, end: date | None, title: str) -> str:
    """`Session du dd-mm-yyyy au dd-mm-yyyy_<Titre de la formation>` (seed 000, step 3)."""
    if not start or not end:
        return ""
    return f"Session du {start:%d-%m-%Y} au {end:%d-%m-%Y}_{title}".strip("_")


_DATED_NAME = re.compile(r"^Session du (\d{2})-(\d{2})-(\d{4}) au (\d{2})-(\d{2})-(\d{4})")


def stale_name(full_name: str, start: date | None, end: date | None) -> bool:
    """Whether the name follows the nomenclature with dates other than the session's (issue 20)."""
    match = _DATED_NAME.match(full_name or "")
    if not match or not start or not end:
        return False
    g = match.groups()
    return (f"{g[0]}-{g[1]}-{g[2]}", f"{g[3]}-{g[4]}-{g[5]}") != (f"{start:%d-%m-%Y}", f"{end:%d-%m-%Y}")


def renamed(full_name: str, start: date, end: date) -> str:
    """The name with the session's dates in place of the ones it states (the rest kept as typed)."""
    return _DATED_NAME.sub(f"Session du {start:%d-%m-%Y} au {end:%d-%m-%Y}", full_name or "", count=1)


def name_for_documents(full_name: str, start: date | None, end: date | None) -> str:
    """The session's name as printed on a document (certificate, convocation, mail): never dates that
    contradict the session's — a name left stale by a change of dates states the dates of the session."""
    return renamed(full_name, start, end) if stale_name(full_name, start, end) else full_name
