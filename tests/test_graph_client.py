"""Graph files client against the Graph and authority doubles: delta, downloads, throttling, faults, tokens."""

from __future__ import annotations

import time
import tracemalloc

import pytest

from include.sources.graph import GraphFileStore
from plugins.hooks.graph import GraphFilesHook
from plugins.hooks.http_retry import RequestFailed, ThrottledTooLong
from tests.doubles import fixtures
from tests.doubles.http import Fault

pytestmark = pytest.mark.graph
microsoft = fixtures.microsoft


def store() -> GraphFileStore:
    return GraphFileStore(GraphFilesHook(), site="root", drive="Documents")


def test_site_documents_drive_and_folder_path_resolve(microsoft):
    item = microsoft.graph.put_file("General/BI Import/BI Dimensions.xlsx", b"workbook")
    files = store()
    found = files.stat("General/BI Import/BI Dimensions.xlsx")
    assert (found.item_id, found.path, found.size, found.etag) == (
        item.id, "General/BI Import/BI Dimensions.xlsx", 8, item.etag)
    assert files.drive_id == microsoft.graph.drive_id
    with pytest.raises(FileNotFoundError, match=r"Missing\.xlsx"):
        files.stat("General/Missing.xlsx")


def test_ten_thousand_files_over_many_pages_with_bounded_memory(microsoft):
    for n in range(10_000):
        microsoft.graph.put_file(f"Labor/{n:06d}.pay_summ.20260901.120000.zip", b"z" * 10)
    microsoft.graph.put_file("Other/ignored.zip", b"x")
    files = store()
    assert files.drive_id  # resolved outside the measurement
    tracemalloc.start()
    changes = files.changes("Labor", None)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pages = microsoft.graph.server.requests_to("/delta")
    assert len(changes.files) == 10_000 and changes.full_resync
    assert len(pages) == 51  # 10,001 items (folder included) in pages of 200
    assert changes.cursor and "token=" in changes.cursor
    assert all(f.path.startswith("Labor/") for f in changes.files)
    # One page of JSON at a time plus the 10,000 small results: far below the raw listing held at once.
    assert peak < 25 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_delta_link_returns_only_changes_and_deletions(microsoft):
    g = microsoft.graph
    a = g.put_file("Labor/a.zip", b"1")
    b = g.put_file("Labor/sub/b.zip", b"2")
    files = store()
    first = files.changes("Labor", None)
    assert {f.path for f in first.files} == {"Labor/a.zip", "Labor/sub/b.zip"}
    assert files.changes("Labor", first.cursor).files == []
    g.put_file("Labor/a.zip", b"changed")
    g.put_file("Labor/c.zip", b"3")
    g.delete("Labor/sub/b.zip")
    second = files.changes("Labor", first.cursor)
    c_etag = g.resolve("Labor/c.zip").etag
    assert {f.path: f.etag for f in second.files} == {"Labor/a.zip": a.etag, "Labor/c.zip": c_etag}
    assert a.etag.endswith(',2"')
    assert second.deleted_ids == [b.id] and not second.full_resync


def test_410_gone_resynchronises_from_scratch(microsoft):
    g = microsoft.graph
    g.put_file("Labor/a.zip", b"1")
    files = store()
    first = files.changes("Labor", None)
    g.put_file("Labor/b.zip", b"2")
    g.expire_deltas()
    again = files.changes("Labor", first.cursor)
    assert again.full_resync
    assert {f.name for f in again.files} == {"a.zip", "b.zip"}
    assert len(g.server.requests_to("/delta?token=0.")) == 1  # the expired link was tried once
    assert files.changes("Labor", again.cursor).files == []


def test_download_streams_through_the_download_url_without_authorization(microsoft, tmp_path):
    content = bytes(range(256)) * 40_000  # 10 MB
    microsoft.graph.put_file("Labor/big.zip", content)
    files = store()
    item = files.stat("Labor/big.zip")
    tracemalloc.start()
    path = files.download(item, tmp_path / "in")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert path.read_bytes() == content and path.name == "big.zip"
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB for a 10 MB file"
    downloads = microsoft.graph.server.requests_to("/download/")
    assert downloads and all("authorization" not in r.headers for r in downloads)
    assert not list((tmp_path / "in").glob("*.part"))


def test_expired_download_url_is_fetched_again(microsoft, tmp_path):
    microsoft.graph.put_file("Labor/a.zip", b"abc")
    microsoft.graph.server.add_fault(Fault("/download/", status=401, times=1))
    files = store()
    assert files.download(files.stat("Labor/a.zip"), tmp_path).read_bytes() == b"abc"
    assert len(microsoft.graph.server.requests_to("/download/")) == 2


def test_throttling_resolves_after_two_429s(microsoft):
    microsoft.graph.put_file("Labor/a.zip", b"1")
    microsoft.graph.server.add_fault(Fault("/delta", status=429, headers={"Retry-After": "1"}, times=2))
    started = time.monotonic()
    changes = store().changes("Labor", None)
    assert len(changes.files) == 1
    assert len(microsoft.graph.server.requests_to("/delta")) == 3
    assert time.monotonic() - started >= 2.0  # both Retry-After waits honoured


def test_retry_after_over_the_cap_fails_clearly(microsoft):
    microsoft.connect(retry_after_cap=2)
    microsoft.graph.put_file("Labor/a.zip", b"1")
    microsoft.graph.server.add_fault(Fault("/delta", status=429, headers={"Retry-After": "900"}, times=1))
    started = time.monotonic()
    with pytest.raises(ThrottledTooLong, match=r"GET http://127\.0\.0\.1:\d+/v1\.0/drives/.+/delta: throttled "
                                               r"\(429\) with Retry-After 900 s, over the cap of 2 s"):
        store().changes("Labor", None)
    assert time.monotonic() - started < 2


def test_server_errors_back_off_then_succeed_or_fail_bounded(microsoft):
    microsoft.connect(max_attempts=4)
    microsoft.graph.put_file("Labor/a.zip", b"1")
    microsoft.graph.server.add_fault(Fault("/delta", status=502, times=2))
    microsoft.graph.server.add_fault(Fault("/delta", status=503, times=1))  # 503 without Retry-After: backoff
    assert len(store().changes("Labor", None).files) == 1
    microsoft.graph.server.add_fault(Fault("/delta", status=500, times=10))
    with pytest.raises(RequestFailed, match=r"GET .+/delta failed after 4 attempts: HTTP 500"):
        store().changes("Labor", None)


def test_slow_response_times_out_and_is_retried(microsoft):
    microsoft.connect(read_timeout=0.5)
    microsoft.graph.put_file("Labor/a.zip", b"1")
    microsoft.graph.server.add_fault(Fault("/delta", delay=1.5, passthrough=True, times=1))
    assert len(store().changes("Labor", None).files) == 1
    assert len(microsoft.graph.server.requests_to("/delta")) == 2


def test_token_is_cached_renewed_once_on_401_then_fails(microsoft):
    g = microsoft.graph
    g.put_file("Labor/a.zip", b"1")
    files = store()
    files.changes("Labor", None)
    files.changes("Labor", None)
    assert microsoft.authority.token_requests == 1
    microsoft.authority.expire_all()  # the service now rejects the cached token
    assert len(files.changes("Labor", None).files) == 1
    assert microsoft.authority.token_requests == 2
    before = len(g.server.log)
    g.server.add_fault(Fault("/v1.0/", status=401, times=5,
                             body={"error": {"code": "InvalidAuthenticationToken", "message": "expired"}}))
    with pytest.raises(RequestFailed, match="HTTP 401"):
        files.stat("Labor/a.zip")
    assert len(g.server.log) - before == 2  # the request, one renewal, the retried request
    assert microsoft.authority.token_requests == 3


def test_token_is_renewed_before_it_expires(microsoft):
    microsoft.authority.expires_in = 2  # renewed at half its life
    microsoft.graph.put_file("Labor/a.zip", b"1")
    files = store()
    files.stat("Labor/a.zip")
    files.stat("Labor/a.zip")
    assert microsoft.authority.token_requests == 1
    time.sleep(1.1)
    files.stat("Labor/a.zip")
    assert microsoft.authority.token_requests == 2


def test_wrong_secret_fails_without_leaking_it(microsoft):
    microsoft.authority.register("1a2b3c4d-5e6f-4000-8000-000000000042", "another-secret")
    from plugins.hooks.msal_token import TokenError

    with pytest.raises(TokenError, match="invalid_client") as caught:
        store().stat("Labor/a.zip")
    assert "Sup3r" not in str(caught.value)
