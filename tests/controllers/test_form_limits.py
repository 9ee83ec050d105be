"""Oversized forms against a real `tremplin serve` process: a post of a million tiny fields, url-encoded
or multipart, with or without a Content-Length, is refused at once (413, in French) and the server
goes on answering."""

import socket
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from app.http.security import FORM_MAX_FIELDS
from app.tables.org import Establishment
from tests.helpers import DEMO_PASSWORD, text

MILLION = 1_000_000
BOUNDARY = "----tremplin"


def _urlencoded_chunks(fields: int, per_chunk: int = 20_000):
    for start in range(0, fields, per_chunk):
        yield b"a=&" * min(per_chunk, fields - start)


def _multipart_chunks(parts: int, per_chunk: int = 2_000):
    part = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="a"\r\n\r\n\r\n'.encode()
    for start in range(0, parts, per_chunk):
        yield part * min(per_chunk, parts - start)
    yield f"--{BOUNDARY}--\r\n".encode()


def raw_post(base_url: str, path: str, content_type: str, chunks, *, chunked: bool, headers: dict | None = None,
             timeout: float = 20):
    """POST as a client would over a socket, the body written by another thread while the answer is
    read (the server may answer, and close, before the body is all sent). (status, body, seconds)."""
    url = urlsplit(base_url)
    body = None if chunked else b"".join(chunks)
    head = [f"POST {path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close", f"Content-Type: {content_type}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
    started = time.perf_counter()

    def write():
        try:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            if chunked:
                for chunk in chunks:
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sock.sendall(b"0\r\n\r\n")
            else:
                sock.sendall(body)
        except OSError:
            pass  # the server answered and closed: what we hope for

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    received = b""
    try:
        while True:
            if b"\r\n\r\n" in received:
                header_part, _, rest = received.partition(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in header_part.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(rest) >= length:
                    break
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    finally:
        elapsed = time.perf_counter() - started
        sock.close()
        writer.join(timeout=5)
    header_part, _, rest = received.partition(b"\r\n\r\n")
    status = int(header_part.split(b" ", 2)[1]) if header_part else 0
    return status, rest.decode("utf-8", "replace"), elapsed


@pytest.fixture
def logged_in(live_server, demo):
    """A session of alp001.get on the live server: the cookies and the CSRF header of a browser."""
    with httpx.Client(base_url=live_server) as browser:
        browser.get("/connexion")
        token = browser.cookies["csrftoken"]
        response = browser.post("/connexion", data={"username": "alp001.get", "password": DEMO_PASSWORD,
                                                    "_csrf_token": token})
        assert response.status_code == 303
        cookie = "; ".join(f"{k}={v}" for k, v in browser.cookies.items())
        yield {"Cookie": cookie, "x-csrftoken": token}


async def _import_path() -> str:
    alp001 = (await Establishment.select(Establishment.id).where(Establishment.code == "ALP001").first())["id"]
    return f"/etablissements/{alp001}/import/"


def _assert_refused(result, live_server):
    status, body, seconds = result
    assert status == 413, (status, text(body)[:300])
    assert "trop volumineux : rien n'a été enregistré" in text(body)
    assert seconds < 3, seconds
    # The server goes on answering at once.
    started = time.perf_counter()
    assert httpx.get(live_server + "/healthz", timeout=5).status_code == 200
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_million_url_encoded_fields_are_refused_at_once(live_server, logged_in, chunked):
    # On an ordinary form, and on the import upload, whose body limit is far larger (11 MB).
    for path in ("/connexion", await _import_path()):
        result = raw_post(live_server, path, "application/x-www-form-urlencoded", _urlencoded_chunks(MILLION),
                          chunked=chunked, headers=logged_in)
        _assert_refused(result, live_server)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_million_multipart_parts_are_refused_at_once(live_server, logged_in, chunked):
    for path in ("/connexion", await _import_path()):
        result = raw_post(live_server, path, f"multipart/form-data; boundary={BOUNDARY}", _multipart_chunks(MILLION),
                          chunked=chunked, headers=logged_in)
        _assert_refused(result, live_server)


async def test_small_bodies_over_the_field_caps_are_refused_in_french(live_server, logged_in):
    """Under the byte limits, the field counts alone decide."""
    path = await _import_path()
    urlencoded = raw_post(live_server, path, "application/x-www-form-urlencoded",
                          _urlencoded_chunks(FORM_MAX_FIELDS + 1), chunked=False, headers=logged_in)
    _assert_refused(urlencoded, live_server)
    multipart = raw_post(live_server, path, f"multipart/form-data; boundary={BOUNDARY}", _multipart_chunks(300),
                         chunked=False, headers=logged_in)
    _assert_refused(multipart, live_server)


async def test_a_form_at_the_field_cap_still_works(live_server, logged_in):
    """The cap leaves room for the largest real form (a two-list selector of 500 people)."""
    fields = b"&".join([b"q_potential="] * (FORM_MAX_FIELDS - 2) + [b"go=add"])
    status, body, _ = raw_post(live_server, "/connexion", "application/x-www-form-urlencoded", [fields],
                               chunked=False, headers=logged_in)
    assert status != 413, text(body)[:300]


async def test_a_malformed_multipart_body_is_refused_in_french(live_server, logged_in):
    """A multipart body the parser cannot read (a boundary announced, another sent): a 400 that says
    in French that nothing was recorded — never the framework's English words."""
    body = b"--other\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--other--\r\n garbage"
    status, page, _ = raw_post(live_server, await _import_path(), "multipart/form-data; boundary=missing", [body],
                               chunked=False, headers=logged_in)
    assert status == 400, text(page)[:300]
    assert "Rien n'a été enregistré" in text(page)
    assert "Invalid" not in text(page) and "multipart" not in text(page)
