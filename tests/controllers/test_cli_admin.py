"""`tremplin create-admin`: a production database gets its first administrator from the command line
(demo data is never loaded there), with the password policy, and the account can log in at once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from app.tables.accounts import RoleAssignment, User
from tests.helpers import login

ROOT = Path(__file__).resolve().parents[2]


def _create_admin(*args: str, password: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", "create-admin", *args, "--password-stdin"], cwd=ROOT,
                          env=dict(os.environ), input=password + "\n", capture_output=True, text=True, timeout=60)


async def test_create_admin_makes_an_account_that_logs_in_and_opens_the_operations_pages(client):
    weak = await asyncio.to_thread(_create_admin, "exploit.admin", "--email", "x@example.org", password="court")
    assert weak.returncode != 0 and "au moins 8 caractères" in weak.stderr
    assert not await User.exists().where(User.username == "exploit.admin")

    done = await asyncio.to_thread(_create_admin, "exploit.admin", "--email", "Exploit@Example.ORG",
                                   password="Premier-Admin-2026!")
    assert done.returncode == 0, done.stderr
    user = await User.select().where(User.username == "exploit.admin").first()
    assert user["email"] == "exploit@example.org"
    assert await RoleAssignment.count().where((RoleAssignment.user == user["id"]) & (RoleAssignment.role == "admin")) == 1

    await login(client, "exploit.admin", "Premier-Admin-2026!")
    assert (await client.get("/ops")).status_code == 200

    # Again for the same username: the password is reset, the role not granted twice.
    again = await asyncio.to_thread(_create_admin, "exploit.admin", "--email", "x@example.org",
                                    password="Second-Admin-2026!")
    assert again.returncode == 0 and "existing account" in again.stdout
    assert await RoleAssignment.count().where((RoleAssignment.user == user["id"]) & (RoleAssignment.role == "admin")) == 1


async def test_create_admin_with_another_account_s_address_says_so(client):
    """Issue 19.3: real addresses are unique (app_user_email_unique): a message, not a traceback."""
    taken = (await User.select(User.email).where(User.username.like("alp001.%.%")
                                                 & User.email.not_like("%fictif%")).first())["email"]
    refused = await asyncio.to_thread(_create_admin, "second.admin", "--email", taken.upper(),
                                      password="Premier-Admin-2026!")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    assert "Cette adresse de courriel est déjà celle d'un autre compte" in refused.stderr
    assert not await User.exists().where(User.username == "second.admin")
