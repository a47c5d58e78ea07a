"""The Quick, Draw! downloader against a local HTTP server on 127.0.0.1 (no real host is contacted).

The server serves files from ``tmp_path`` laid out like the public bucket and can be told to
ignore ``Range`` requests, break a transfer off half-way, or send a (right or wrong) GCS MD5.
"""
from __future__ import annotations

import base64
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from sketchpad.datasets import download as dl
from sketchpad.datasets.quickdraw import iter_ndjson

LINE = b'{"word":"alarm clock","key_id":"1","drawing":[[[0,10],[0,5]]]}\n'


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.root``; honours ``Range: bytes=N-`` unless ``server.ranges`` is False."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        path = srv.root / self.path.lstrip("/").replace("%20", " ")
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and srv.ranges:
            start = int(rng.split("=")[1].rstrip("-"))
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        if srv.md5 is not None:
            self.send_header("x-goog-hash", f"crc32c=AAAAAA==,md5={srv.md5}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        payload = body[start:]
        if srv.break_after is not None:  # promise the whole length, send part, hang up
            payload, srv.break_after = payload[:srv.break_after], None
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path):
    root = tmp_path / "bucket"
    (root / "full" / "simplified").mkdir(parents=True)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.root, srv.ranges, srv.break_after, srv.md5, srv.requests = root, True, None, None, []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def publish(srv, name: str, body: bytes, folder: str = "full/simplified") -> None:
    (srv.root / folder).mkdir(parents=True, exist_ok=True)
    (srv.root / folder / name).write_bytes(body)


def test_urls_and_local_names_follow_the_bucket_layout():
    assert dl.url_for("alarm clock") == \
        "https://storage.googleapis.com/quickdraw_dataset/full/simplified/alarm%20clock.ndjson"
    assert dl.url_for("cat", "raw", "http://h/x/").endswith("/x/full/raw/cat.ndjson")
    assert dl.url_for("cat", "bitmap", "http://h").endswith("/full/numpy_bitmap/cat.npy")
    assert dl.url_for("cat", "sketchrnn", "http://h").endswith("/sketchrnn/cat.npz")
    assert dl.local_name("alarm clock") == "alarm_clock.ndjson"
    with pytest.raises(ValueError, match="unknown format"):
        dl.url_for("cat", "svg")


def test_downloads_classes_and_the_loader_reads_them(server, tmp_path):
    publish(server, "alarm clock.ndjson", LINE * 3)
    publish(server, "cat.ndjson", LINE)
    got = dl.download_classes(["alarm clock", "cat"], tmp_path / "out", base_url=server.base)
    assert [f.status for f in got] == ["downloaded", "downloaded"]
    assert (tmp_path / "out" / "alarm_clock.ndjson").read_bytes() == LINE * 3
    assert len(list(iter_ndjson(tmp_path / "out" / "alarm_clock.ndjson"))) == 3
    assert not list((tmp_path / "out").glob("*.part"))
    again = dl.download_classes(["cat"], tmp_path / "out", base_url=server.base)
    assert again[0].status == "present"


def test_a_broken_transfer_leaves_no_final_file_and_the_next_run_resumes(server, tmp_path):
    body = LINE * 50
    publish(server, "cat.ndjson", body)
    server.break_after = 100
    dest = tmp_path / "cat.ndjson"
    with pytest.raises(dl.DownloadError, match="resume"):
        dl.download_file(f"{server.base}/full/simplified/cat.ndjson", dest)
    assert not dest.exists()
    assert (tmp_path / "cat.ndjson.part").stat().st_size == 100
    got = dl.download_file(f"{server.base}/full/simplified/cat.ndjson", dest)
    assert got.status == "resumed" and dest.read_bytes() == body
    assert server.requests[-1][1] == "bytes=100-"


def test_a_server_ignoring_range_restarts_the_file(server, tmp_path):
    body = LINE * 20
    publish(server, "cat.ndjson", body)
    server.ranges = False
    (tmp_path / "cat.ndjson.part").write_bytes(b"stale bytes from elsewhere")
    got = dl.download_file(f"{server.base}/full/simplified/cat.ndjson", tmp_path / "cat.ndjson")
    assert got.status == "downloaded" and (tmp_path / "cat.ndjson").read_bytes() == body


def test_a_complete_part_is_finished_on_416(server, tmp_path):
    publish(server, "cat.ndjson", LINE)
    (tmp_path / "cat.ndjson.part").write_bytes(LINE)
    got = dl.download_file(f"{server.base}/full/simplified/cat.ndjson", tmp_path / "cat.ndjson",
                           size=len(LINE))
    assert got.status == "resumed" and (tmp_path / "cat.ndjson").read_bytes() == LINE


def test_sha256_and_gcs_md5_are_checked(server, tmp_path):
    publish(server, "cat.ndjson", LINE)
    url = f"{server.base}/full/simplified/cat.ndjson"
    good = hashlib.sha256(LINE).hexdigest()
    with pytest.raises(dl.DownloadError, match="sha256"):
        dl.download_file(url, tmp_path / "a.ndjson", sha256="0" * 64)
    assert not (tmp_path / "a.ndjson").exists() and not (tmp_path / "a.ndjson.part").exists()
    assert dl.download_file(url, tmp_path / "a.ndjson", sha256=good).status == "downloaded"

    server.md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(dl.DownloadError, match="MD5"):
        dl.download_file(url, tmp_path / "b.ndjson")
    server.md5 = base64.b64encode(hashlib.md5(LINE).digest()).decode()
    assert dl.download_file(url, tmp_path / "b.ndjson").status == "downloaded"


def test_an_existing_file_failing_its_check_is_fetched_again(server, tmp_path):
    publish(server, "cat.ndjson", LINE)
    (tmp_path / "cat.ndjson").write_bytes(b"old")
    got = dl.download_file(f"{server.base}/full/simplified/cat.ndjson", tmp_path / "cat.ndjson",
                           sha256=hashlib.sha256(LINE).hexdigest())
    assert got.status == "downloaded" and (tmp_path / "cat.ndjson").read_bytes() == LINE


def test_cli_reports_missing_classes_and_fetches_the_rest(server, tmp_path, capsys):
    publish(server, "cat.npy", b"\x93NUMPY", folder="full/numpy_bitmap")
    rc = dl.main(["--classes", "cat, unicorn", "--dest", str(tmp_path / "d"), "--format", "bitmap",
                  "--base-url", server.base])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "downloaded" in out and (tmp_path / "d" / "cat.npy").is_file()
    assert "unicorn.npy: HTTP 404" in err
    assert not (tmp_path / "d" / "unicorn.npy").exists()
