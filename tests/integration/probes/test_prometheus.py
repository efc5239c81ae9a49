"""The prometheus probe: a served exposition for exact values, and Debian's node exporter."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from forewarn.domain.observation import Result, Status
from forewarn.probes import prometheus
from forewarn.probes.http_client import make_session

from ._web_servers import HOST, free_port, loop_thread, refused_port, silent_port, text_app

NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"

EXPOSITION = r"""# HELP app_up Whether the app is up.
# TYPE app_up gauge
app_up 1
# HELP app_queue_depth Jobs waiting.
# TYPE app_queue_depth gauge
app_queue_depth{queue="mail",site="a"} 12
app_queue_depth{queue="print",site="a"} 3.5
app_queue_depth{queue="scan",site="b"} 40 1700000000000
app_queue_depth_max 100
# TYPE app_disk_free_bytes gauge
app_disk_free_bytes{path="C:\\Data",label="say \"hi\"",} 2.5e+09
app_disk_free_bytes{path="/srv",label="a,b}c"} 7e9
app_temperature{sensor="broken"} NaN
app_temperature{sensor="cpu"} 61.5
# TYPE app_requests_seconds histogram
app_requests_seconds_bucket{le="0.1"} 7
app_requests_seconds_bucket{le="+Inf"} 9
app_requests_seconds_count 9
app_requests_seconds_sum 1.25
"""


@pytest.fixture(scope="module")
def exporter() -> Iterator[str]:
    with loop_thread() as lt:
        yield f"http://{HOST}:{lt.serve_app(text_app('/metrics', EXPOSITION))}/metrics"


@pytest.fixture(scope="module")
def others() -> Iterator[dict[str, str]]:
    with loop_thread() as lt:
        yield {
            name: f"http://{HOST}:{lt.serve_app(app)}/metrics"
            for name, app in {
                "broken": text_app("/metrics", 'app_up{job="x" 1\n'),
                "html": text_app("/metrics", "<html>login</html>", "text/html"),
                "error": text_app("/metrics", "oops", status=500),
            }.items()
        }


def check(url: str, timeout: float = 2, **params: Any) -> Result:
    p = prometheus.validate(url, params)

    async def go() -> Result:
        async with make_session() as session:
            return await prometheus.run(url, p, timeout, session=session)

    return asyncio.run(go())


def only_metric(r: Result) -> tuple[str, float]:
    (m,) = r.metrics
    return m.name, m.value


def test_single_series_value(exporter: str) -> None:
    r = check(exporter, query="app_up")
    assert r.status is Status.OK, r.message
    assert r.message == "app_up = 1"
    assert only_metric(r) == ("app_up", 1.0)


def test_name_is_not_a_prefix_match(exporter: str) -> None:
    # app_queue_depth_max exists too; only app_queue_depth{...} series count.
    r = check(exporter, query="app_queue_depth", aggregate="count")
    assert only_metric(r) == ("count(app_queue_depth)", 3.0)


def test_label_selection_and_the_metric_name(exporter: str) -> None:
    r = check(exporter, query='app_queue_depth{queue="print"}')
    assert r.status is Status.OK, r.message
    assert only_metric(r) == ('app_queue_depth{queue="print"}', 3.5)
    both = check(exporter, query='app_queue_depth{ site = "a" , queue="mail" }')
    assert only_metric(both) == ('app_queue_depth{site="a",queue="mail"}', 12.0)


@pytest.mark.parametrize(
    ("aggregate", "value"), [("max", 40.0), ("min", 3.5), ("sum", 55.5), ("count", 3.0)]
)
def test_aggregates(exporter: str, aggregate: str, value: float) -> None:
    r = check(exporter, query="app_queue_depth", aggregate=aggregate)
    assert r.status is Status.OK, r.message
    assert only_metric(r)[1] == value


def test_aggregate_message_names_the_series_count(exporter: str) -> None:
    r = check(exporter, query='app_queue_depth{site="a"}')
    assert r.message == 'max of 2 series app_queue_depth{site="a"} = 12'


def test_escaped_label_values(exporter: str) -> None:
    r = check(exporter, query='app_disk_free_bytes{path="C:\\\\Data",label="say \\"hi\\""}')
    assert only_metric(r)[1] == 2.5e9
    r = check(exporter, query='app_disk_free_bytes{label="a,b}c"}')
    assert only_metric(r)[1] == 7e9


def test_nan_series_are_left_out_of_an_aggregate(exporter: str) -> None:
    assert only_metric(check(exporter, query="app_temperature"))[1] == 61.5
    r = check(exporter, query='app_temperature{sensor="broken"}')
    assert r.status is Status.UNKNOWN
    assert "nan" in r.message


def test_histogram_series_by_their_own_names(exporter: str) -> None:
    r = check(exporter, query='app_requests_seconds_bucket{le="+Inf"}')
    assert only_metric(r)[1] == 9.0
    assert only_metric(check(exporter, query="app_requests_seconds_sum"))[1] == 1.25


def test_thresholds(exporter: str) -> None:
    q = 'app_queue_depth{queue="scan"}'
    warn = check(exporter, query=q, warn="30", crit="50")
    assert warn.status is Status.WARNING
    assert warn.message == 'app_queue_depth{queue="scan"} = 40 (breaches warning threshold 30)'
    (m,) = warn.metrics
    assert (m.warn, m.crit) == ("30", "50")
    assert check(exporter, query=q, warn="30", crit="35").status is Status.CRITICAL
    assert check(exporter, query=q, warn="50", crit="60").status is Status.OK


def test_missing_series_is_unknown_or_critical(exporter: str) -> None:
    r = check(exporter, query='app_queue_depth{queue="fax"}')
    assert r.status is Status.UNKNOWN
    assert (
        r.message
        == 'no series matches app_queue_depth{queue="fax"} (among 3 series of app_queue_depth)'
    )
    assert check(exporter, query="app_gone", missing="critical").status is Status.CRITICAL
    assert check(exporter, query="app_gone").message == "no series matches app_gone"


def test_bad_answers(others: dict[str, str]) -> None:
    broken = check(others["broken"], query="app_up")
    assert broken.status is Status.UNKNOWN
    assert broken.message.startswith("exposition not readable: cannot read line 'app_up{job=")
    html = check(others["html"], query="app_up")
    assert (html.status, html.message) == (
        Status.UNKNOWN,
        "answer is an HTML page, not a Prometheus exposition",
    )
    error = check(others["error"], query="app_up")
    assert (error.status, error.message) == (Status.CRITICAL, "HTTP 500 Internal Server Error")


def test_exposition_over_max_body_is_unknown(exporter: str) -> None:
    r = check(exporter, query="app_up", max_body=100)
    assert r.status is Status.UNKNOWN
    assert r.message.startswith("exposition larger than max_body (100 B)")


def test_refused_and_silent_exporters_are_critical() -> None:
    with refused_port() as port:
        r = check(f"http://{HOST}:{port}/metrics", query="up")
    assert (r.status, r.message) == (Status.CRITICAL, "connection refused")
    with silent_port() as port:
        started = time.perf_counter()
        r = check(f"http://{HOST}:{port}/metrics", timeout=0.3, query="up")
        assert time.perf_counter() - started < 0.8
    assert (r.status, r.message) == (Status.CRITICAL, "timed out after 0.3 s")


def test_without_a_session(exporter: str) -> None:
    p = prometheus.validate(exporter, {"query": "app_up"})
    r = asyncio.run(prometheus.run(exporter, p, 2))
    assert r.status is Status.OK, r.message


# --- a real exporter --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def node_exporter() -> Iterator[str]:
    if shutil.which(NODE_EXPORTER) is None:
        pytest.skip(f"{NODE_EXPORTER} is missing: apt-get install prometheus-node-exporter")
    port = free_port()
    proc = subprocess.Popen(
        [
            NODE_EXPORTER,
            f"--web.listen-address={HOST}:{port}",
            "--collector.disable-defaults",
            "--collector.loadavg",
            "--collector.filesystem",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"node exporter did not start on {HOST}:{port}")
                time.sleep(0.05)
        yield f"http://{HOST}:{port}/metrics"
    finally:
        proc.terminate()
        proc.wait(5)


@pytest.mark.slow
def test_node_exporter_series(node_exporter: str) -> None:
    build = check(node_exporter, query="node_exporter_build_info")
    assert build.status is Status.OK, build.message
    assert only_metric(build) == ("node_exporter_build_info", 1.0)
    load = check(node_exporter, query="node_load1", crit="~:100000")
    assert load.status is Status.OK, load.message
    assert only_metric(load)[1] >= 0
    scrapes = check(node_exporter, query="node_scrape_collector_success", aggregate="count")
    assert only_metric(scrapes)[1] == 2.0  # the two collectors enabled above
    missing = check(node_exporter, query='node_load1{cpu="nope"}')
    assert missing.status is Status.UNKNOWN
