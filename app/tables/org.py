"""The organisation tree: delegations and their establishments."""

from piccolo.columns import ForeignKey, Text, Varchar
from piccolo.table import Table

from app.tables.searchable import Searchable


class Delegation(Searchable, Table):
    SEARCHED = ("code", "name")

    code = Varchar(length=16, unique=True, index=True)
    name = Varchar(length=200)
    search_text = Text(default="")  # folded code and name (app/services/text.py search)


class Establishment(Searchable, Table):
    SEARCHED = ("code", "name")

    code = Varchar(length=16, unique=True, index=True)
    name = Varchar(length=200)
    delegation = ForeignKey(references=Delegation, null=False, index=True)
    search_text = Text(default="")
