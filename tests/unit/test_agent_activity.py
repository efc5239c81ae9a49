"""The agent's side of suspicious activity: auth events travel in the batch (and the read
position is kept only with it), the farewell on SIGTERM, and the firewall fact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forewarn import wire
from forewarn.agent.buffer import Buffer
from forewarn.agent.client import Client
from forewarn.agent.collectors import firewall
from forewarn.agent.collectors.authlog import AuthReader
from forewarn.agent.runner import META_AUTH, Runner, Schedule
from forewarn.domain.clock import ManualClock
from tests.unit.test_agent_runner import TOKEN, FakeServer, Machine, clock, server  # noqa: F401

pytestmark = pytest.mark.timeout(60)

FAILED = "Failed password for root from 192.0.2.{n} port 4{n} ssh2\n"


def _runner(tmp_path: Path, clock: ManualClock, url: str, log: Path) -> Runner:  # noqa: F811
    buffer = Buffer(tmp_path / "buffer.db", clock=lambda: clock.now().timestamp())
    return Runner(
        buffer,
        Client(url, agent_token=TOKEN, timeout=2),
        Machine().sources(),
        schedule=Schedule(jitter=0),
        clock=clock,
        sleep=clock.advance,
        auth=AuthReader(str(log)),
    )


def test_auth_events_travel_in_the_batch_and_the_position_is_kept(
    tmp_path: Path,
    clock: ManualClock,  # noqa: F811
    server: FakeServer,  # noqa: F811
) -> None:
    log = tmp_path / "sshd.log"
    log.write_text(FAILED.format(n=0))
    runner = _runner(tmp_path, clock, server.url, log)  # type: ignore[attr-defined]
    runner.run_once()  # starts at the end: the old line is not news
    assert "auth" not in server.stored[-1]
    with log.open("a") as f:
        for n in range(1, 4):
            f.write(FAILED.format(n=n))
    clock.advance(60)
    runner.run_once()
    batch: dict[str, Any] = server.stored[-1]
    wire.Batch.model_validate(batch)
    assert [e["source"] for e in batch["auth"]["events"]] == [f"192.0.2.{n}" for n in (1, 2, 3)]
    assert batch["auth"]["origin"] == str(log)
    assert runner.buffer.get_meta(META_AUTH) is not None
    clock.advance(60)
    runner.run_once()
    assert "auth" not in server.stored[-1]  # nothing new, nothing sent twice


def test_the_farewell_is_sent_once_and_never_kept(
    tmp_path: Path,
    clock: ManualClock,  # noqa: F811
    server: FakeServer,  # noqa: F811
) -> None:
    runner = _runner(tmp_path, clock, server.url, tmp_path / "none.log")  # type: ignore[attr-defined]
    runner.run_once()
    assert runner.farewell() is True
    last = server.stored[-1]
    wire.Batch.model_validate(last)
    assert last["stopping"] is True and last["samples"] == []
    assert runner.buffer.stats().depth == 0

    # The server is gone: the farewell is dropped, not kept for the next start (where it
    # would say "stopped" about an agent that runs).
    away = _runner(tmp_path / "b", clock, "http://127.0.0.1:9", tmp_path / "none.log")
    assert away.farewell() is False
    assert away.buffer.stats().depth == 0


NFT_DROP = """\
table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy drop;
\t\tct state established,related accept
\t\tiif "lo" accept
\t\ttcp dport 22 accept
\t}
\tchain forward {
\t\ttype filter hook forward priority filter; policy drop;
\t}
\tchain output {
\t\ttype filter hook output priority filter; policy accept;
\t}
}
"""
NFT_EMPTY = """\
table inet filter {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t}
}
"""
IPTABLES = "-P INPUT DROP\n-P FORWARD DROP\n-P OUTPUT ACCEPT\n-A INPUT -i lo -j ACCEPT\n"
IPTABLES_OPEN = "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n"


def test_firewall_outputs_parse() -> None:
    assert firewall.parse_nft(NFT_DROP) == {
        "active": True,
        "tool": "nftables",
        "rules": 3,
        "input_policy": "drop",
    }
    assert firewall.parse_nft(NFT_EMPTY)["active"] is False
    assert firewall.parse_nft("")["active"] is False  # no ruleset at all
    assert firewall.parse_iptables(IPTABLES)["active"] is True
    assert firewall.parse_iptables(IPTABLES_OPEN) == {
        "active": False,
        "tool": "iptables",
        "rules": 0,
        "input_policy": "accept",
    }
    assert firewall.parse_ufw("Status: active\n\nTo Action From\n") == {
        "active": True,
        "tool": "ufw",
    }
    assert firewall.parse_ufw("Status: inactive\n")["active"] is False  # type: ignore[index]
    for value in (firewall.parse_nft(NFT_DROP), firewall.collect()):
        wire.Firewall.model_validate(value)
