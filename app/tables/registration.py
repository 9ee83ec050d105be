"""Online registration ("Inscriptions locales", SPEC F): the back office's reference lists."""

from piccolo.columns import Boolean, ForeignKey, Integer, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class RefItem(Table):
    """An entry of one of the simple lists the wizard offers (SPEC F4)."""

    kind = Varchar(length=32, index=True)  # establishment_type, candidate_state, funding_method
    label = Varchar(length=255)
    position = Integer(default=0)
    hidden = Boolean(default=False)


class Organisation(Table):
    """An organisation a requester belongs to ("Établissement" of the seed's back office)."""

    name = Varchar(length=255)
    kind = ForeignKey(references=RefItem, null=True, on_delete=OnDelete.set_null)  # its establishment type
    postal_code = Varchar(length=10, default="")
    city = Varchar(length=100, default="")
    validation_email = Varchar(length=254, default="")  # the requester's validating instance
    referenced = Boolean(default=True)  # False: created by the wizard, to review
    under_agreement = Boolean(default=False)  # conventionné avec l'opérateur
    hidden = Boolean(default=False)
    position = Integer(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
