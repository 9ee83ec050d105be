"""The stored values of a status or kind column are declared once, as its ``choices`` Enum beside the
table; the services' French labels must name exactly those (a value added to one and not the other
shows a raw key, or offers what is never stored)."""

import pytest

from app.services import accounts, activities, attendance, certificates, ops, registration, registration_admin, roles
from app.tables.accounts import AccountStatus, Role, RoleAssignment, User
from app.tables.catalogue import ActivityKind, SessionActivity, TemplateActivity
from app.tables.certificates import CertificateStatus
from app.tables.jobs import JobAction, JobActionKind, JobStatus
from app.tables.learning import AttendanceStatus
from app.tables.outbox import Mail, MailStatus
from app.tables.registration import Answer, RefItem, RegistrationRequest, RefKind, RequestStatus


def values(enum, *left_out) -> set[str]:
    return {member.value for member in enum} - set(left_out)


@pytest.mark.smoke
def test_the_labels_name_the_declared_values():
    assert set(accounts.STATUS_LABELS) == values(AccountStatus, "")
    assert set(roles.ROLE_LABELS) == values(Role)
    assert set(dict(activities.ACTIVITY_KINDS)) == values(ActivityKind)
    assert set(attendance.STATUS_LABELS) == values(AttendanceStatus)
    assert set(certificates.STATUS_LABELS) == values(CertificateStatus)
    assert set(ops.STATUS_LABELS) == values(JobStatus)
    assert set(ops.ACTION_LABELS) == values(JobActionKind)
    assert set(ops.MAIL_STATUSES) == values(MailStatus, "held", "cancelled")  # the counts /ops shows
    assert set(registration.STATUS_LABELS) == values(RequestStatus)
    assert set(registration.YES_NO) == values(Answer, "")
    assert set(registration_admin.REF_KINDS) == values(RefKind)


@pytest.mark.smoke
def test_the_columns_declare_their_choices():
    for column, enum in [(User.status, AccountStatus), (RoleAssignment.role, Role), (TemplateActivity.kind, ActivityKind),
                         (SessionActivity.kind, ActivityKind), (JobAction.action, JobActionKind),
                         (Mail.status, MailStatus), (RefItem.kind, RefKind), (RegistrationRequest.status, RequestStatus),
                         (RegistrationRequest.dietary, Answer), (RegistrationRequest.consent_image, Answer)]:
        assert column._meta.choices is enum, column._meta.name
