"""A validated batch becomes the plain values the writer process is sent, and nothing is lost."""

from __future__ import annotations

import logging
import marshal

from forewarn.api.routers.agent import _QuietCheckins
from forewarn.services.ingest import AgentRef, Checkin, checkin_of, labels_key
from forewarn.wire import Batch

REF = AgentRef(agent_id=7, asset_id=70, org_id=3, interval=60)


def batch(**fields: object) -> Batch:
    return Batch.model_validate(
        {
            "batch_id": "ab" * 16,
            "seq": 5,
            "agent_version": "0.1.0",
            "sent_at": 1_790_000_060,
            "samples": [
                {
                    "ts": 1_790_000_000.7,
                    "points": [
                        {"name": "cpu.percent", "value": 3},
                        {"name": "disk.used_percent", "labels": {"mount": "/"}, "value": 40.5},
                    ],
                    "top": [{"pid": 1, "name": "init", "cpu_percent": 0.5, "rss_bytes": 10}],
                },
                {"ts": 1_790_000_060, "points": [{"name": "cpu.percent", "value": 4.0}]},
            ],
            **fields,
        }
    )


def test_the_agent_decides_nothing_the_credential_does() -> None:
    c = checkin_of(REF, batch())
    assert (c.agent_id, c.asset_id, c.org_id) == (7, 70, 3)
    assert (c.batch_id, c.seq, c.version) == ("ab" * 16, 5, "0.1.0")


def test_samples_are_whole_seconds_with_their_points() -> None:
    c = checkin_of(REF, batch())
    assert c.samples == [
        (1_790_000_000, [("cpu.percent", {}, 3.0), ("disk.used_percent", {"mount": "/"}, 40.5)]),
        (1_790_000_060, [("cpu.percent", {}, 4.0)]),
    ]
    assert isinstance(c.samples[0][1][0][2], float)  # an integer on the wire is stored as float


def test_the_latest_top_processes_travel_and_inventory_only_when_sent() -> None:
    c = checkin_of(REF, batch())
    assert c.top == [{"pid": 1, "name": "init", "user": "", "cpu_percent": 0.5, "rss_bytes": 10}]
    assert c.inventory is None
    packages = [{"name": "bash", "version": "5.2", "arch": "amd64", "source": "dpkg"}]
    inv = checkin_of(REF, batch(inventory={"packages": packages, "system": {"hostname": "pc"}}))
    assert inv.inventory is not None
    assert list(inv.inventory) == ["system", "packages"]  # sections sent, in wire order
    assert inv.inventory["packages"] == packages
    assert inv.inventory["system"]["hostname"] == "pc"


def test_a_checkin_survives_marshal_unchanged() -> None:
    c = checkin_of(REF, batch(inventory={"time_sync": {"synchronized": True}}))
    assert Checkin._make(marshal.loads(marshal.dumps(tuple(c)))) == c


def test_labels_key_is_canonical() -> None:
    assert labels_key({}) == ""
    assert labels_key({"mount": "/"}) == "mount=/"
    assert labels_key({"b": "2", "a": "1"}) == labels_key({"a": "1", "b": "2"}) == "a=1,b=2"


def access_line(path: str, status: int) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5555", "POST", path, "1.1", status),
        None,
    )


def test_answered_checkins_stay_out_of_the_access_log() -> None:
    quiet = _QuietCheckins()
    assert not quiet.filter(access_line("/api/v1/agent/checkin", 200))
    assert quiet.filter(access_line("/api/v1/agent/checkin", 422))  # refused: still logged
    assert quiet.filter(access_line("/api/v1/orgs", 200))
