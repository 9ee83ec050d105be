"""Cohorts of an establishment and their members (SPEC C2; filled by the CSV import's cohortN)."""

from piccolo.columns import Boolean, ForeignKey, OnDelete, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.constraints import Unique
from piccolo.table import Table

from app.tables.accounts import User
from app.tables.org import Establishment


class Cohort(Table):
    establishment = ForeignKey(references=Establishment, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=100)
    visible = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())

    # A name once per establishment (the import's cohortN columns find a cohort by its name).
    cohort_name_unique = Unique(["establishment", "name"])


class CohortMember(Table):
    cohort = ForeignKey(references=Cohort, on_delete=OnDelete.cascade, index=True)
    user = ForeignKey(references=User, on_delete=OnDelete.cascade, index=True)
    added_at = Timestamptz(default=TimestamptzNow())

    cohort_member_unique = Unique(["cohort", "user"])
