"""`forewarn check`: one probe by hand, printed and exited as a Nagios plugin."""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

FOREWARN = [str(Path(sys.executable).with_name("forewarn"))]


@pytest.fixture
def web() -> Iterator[str]:
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<h1>Welcome to Acme</h1>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FOREWARN, "check", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_http_ok_and_missing_keyword(web):
    ok = run("http", web, "--expect", "Welcome")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("HTTP OK - HTTP 200")
    assert "| time=" in ok.stdout
    missing = run("http", web, "--expect", "Goodbye")
    assert missing.returncode == 2
    assert 'keyword "Goodbye" not found' in missing.stdout


def test_refused_port_is_critical_and_bad_definition_unknown():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = run("tcp", f"127.0.0.1:{port}", "--timeout", "2")
    assert (down.returncode, down.stdout.split(" - ")[0]) == (2, "TCP CRITICAL")
    bad = run("snmp", "127.0.0.1", "-p", "version=4")
    assert bad.returncode == 3
    assert "unknown SNMP version" in bad.stdout


@pytest.mark.skipif(
    not Path("/usr/lib/nagios/plugins/check_tcp").exists(),
    reason="Debian's monitoring-plugins are not installed (.ci/run installs them)",
)
def test_nagios_plugin_runs_unchanged_with_its_arguments(web):
    port = web.rsplit(":", 1)[1].strip("/")
    r = run("nagios", "/usr/lib/nagios/plugins/check_tcp", "--", "-H", "127.0.0.1", "-p", port)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("TCP OK")
    outside = run("nagios", "/bin/sh")
    assert outside.returncode == 3 and "outside the allowed directories" in outside.stdout
