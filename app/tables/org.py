"""The organisation tree: delegations and their establishments."""

from piccolo.columns import ForeignKey, Varchar
from piccolo.columns.readable import Readable
from piccolo.table import Table


class Delegation(Table):
    code = Varchar(length=16, unique=True, index=True)
    name = Varchar(length=200)

    @classmethod
    def get_readable(cls):
        return Readable(template="%s — %s", columns=[cls.code, cls.name])


class Establishment(Table):
    code = Varchar(length=16, unique=True, index=True)
    name = Varchar(length=200)
    delegation = ForeignKey(references=Delegation, null=False, index=True)

    @classmethod
    def get_readable(cls):
        return Readable(template="%s — %s", columns=[cls.code, cls.name])
