"""The three certificate layouts are frozen: a certificate is re-rendered from its snapshot with the
layout it was issued with, and must give the bytes whose SHA-256 was kept. Layouts 1 and 3 extend
layout 2 (app/templates/pdf/certificate.html) and replace some of its blocks, so an edit there could
change all three. The HTML each layout gives for fixed snapshots is compared with the digests taken
from the templates as they were issued (before they shared one file)."""

import hashlib

import pytest

from app.http.templating import jinja_env
from app.services.certificates import DEFAULT_TEXT, LAYOUTS, PLACEHOLDERS

KEPT = """
0 1 d6c440741aaff17a0279da5d27dd1e65f312c3f5266d8cb859c2a2adfb72f7d5
0 2 b7e60db580edf7428f58c5b7566ccb7706d13d6b69497da6d9a9c805cf795c21
0 3 b7e60db580edf7428f58c5b7566ccb7706d13d6b69497da6d9a9c805cf795c21
1 1 b8b14d438bd69b48ee139bb19983bda243bc7d5e41de65f5a12ea3317fc287cd
1 2 425fb173142ee9c83be6ba7124616f2a20027c0c58d52d9f4fb494ca66c23ddf
1 3 00c8fa9da4cdd3a38459bf518bb1583c0756d959ba04f354ecd7726516baf591
2 1 c8f938b172d19092c11a82aec56dfa1dfbc7ca85620afa73bec879db31b8f0aa
2 2 ea33ac17a179cea71c8f62c77e081b4d6389e14e0a6210cabecedf85de5d467b
2 3 ea33ac17a179cea71c8f62c77e081b4d6389e14e0a6210cabecedf85de5d467b
3 1 3168735631ba8207c8294667d4572943a0eaeac6e8a061253c46cc8bd1894959
3 2 2596ed7c36ce926423588f715177c654e988189e7c7aaff9622249511027a92f
3 3 5e1690e5bf0c6c378bbff50b1cd3688e9be1ffc719cfcb2fd5ffce4612defe34
"""
CASES = [tuple(line.split()) for line in KEPT.strip().splitlines()]


def snapshot(variant: int) -> dict:
    """Bit 1: slots (hours, planned hours); bit 2: a place; any: a duration."""
    return {**{k: f"{k} <é>" for k in PLACEHOLDERS}, "text": DEFAULT_TEXT, "session_code": "26C03S1", "version": 2,
            "issued_at": "2026-01-01", "horaires": "lun. 3 mars 9:00–12:00, 14:00–17:00" if variant & 1 else "",
            "lieu": "Lyon" if variant & 2 else "", "duree": "14 h" if variant else "",
            "heures_prevues": "14 h" if variant & 1 else "", "heures_presence": "7 h", "template_version": 1,
            "verify_url": "http://x/v/22"}


@pytest.mark.parametrize(("variant", "layout", "digest"), CASES)
def test_each_layout_gives_the_html_it_was_issued_with(variant, layout, digest):
    html = jinja_env().get_template(LAYOUTS[int(layout)]).render(c=snapshot(int(variant)), qr="data:x")
    assert hashlib.sha256(html.encode()).hexdigest() == digest
