"""The agent's outgoing buffer: order, acknowledgement, quarantine, the size bound, durability."""

from __future__ import annotations

import gzip
import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from forewarn.agent.buffer import Buffer, compress, decode, encode

T0 = 1_793_000_000.0


def metrics_batch(n_points: int = 3, ts: float = T0) -> dict[str, Any]:
    """A metrics-only batch; random label values keep it from compressing to nothing."""
    points = [
        {"name": "net.bytes_sent", "labels": {"nic": secrets.token_hex(40)}, "value": float(i)}
        for i in range(n_points)
    ]
    return {
        "v": 1,
        "agent_version": "test",
        "sent_at": ts,
        "samples": [{"ts": ts, "points": points, "top": []}],
        "inventory": None,
    }


def inventory_batch(n_packages: int = 20, with_samples: bool = True) -> dict[str, Any]:
    batch = metrics_batch(40) if with_samples else metrics_batch(0)
    if not with_samples:
        batch["samples"] = []
    batch["inventory"] = {
        "full": False,
        "packages": [
            {"name": f"pkg-{secrets.token_hex(8)}", "version": "1.0", "source": "dpkg"}
            for _ in range(n_packages)
        ],
    }
    return batch


@pytest.fixture
def buffer(tmp_path: Path) -> Buffer:
    with Buffer(tmp_path / "buffer.db") as b:
        yield b


def drain_ids(buffer: Buffer) -> list[str]:
    """Acknowledge everything oldest-first, returning the batch ids in the order served."""
    ids = []
    while (item := buffer.oldest()) is not None:
        ids.append(item[0])
        buffer.acknowledge(item[0])
    return ids


def test_append_assigns_ids_and_serves_oldest_first(buffer: Buffer) -> None:
    batches = [metrics_batch() for _ in range(3)]
    for b in batches:
        buffer.append(b)

    assert [b["seq"] for b in batches] == [0, 1, 2]
    assert all(len(b["batch_id"]) == 32 and int(b["batch_id"], 16) >= 0 for b in batches)
    assert len({b["batch_id"] for b in batches}) == 3
    assert drain_ids(buffer) == [b["batch_id"] for b in batches]
    assert buffer.oldest() is None


def test_body_is_the_gzip_json_of_the_batch(buffer: Buffer) -> None:
    batch = inventory_batch()
    buffer.append(batch)

    batch_id, body = buffer.oldest() or ("", b"")
    assert batch_id == batch["batch_id"]
    assert json.loads(gzip.decompress(body)) == batch


def test_acknowledge_removes_only_that_batch(buffer: Buffer) -> None:
    first, second = metrics_batch(), metrics_batch()
    buffer.append(first)
    buffer.append(second)

    buffer.acknowledge(second["batch_id"])  # out of order: allowed, harmless
    buffer.acknowledge("0" * 32)  # unknown: a duplicate answer, nothing to do

    assert drain_ids(buffer) == [first["batch_id"]]
    assert buffer.get_meta("last_ack_at") is not None


def test_nan_is_refused_before_anything_is_stored(buffer: Buffer) -> None:
    batch = metrics_batch()
    batch["samples"][0]["points"][0]["value"] = float("nan")

    with pytest.raises(ValueError):
        buffer.append(batch)
    assert buffer.stats().depth == 0


def test_quarantine_takes_a_batch_out_of_line_and_keeps_it(buffer: Buffer) -> None:
    bad, inv, good = metrics_batch(), inventory_batch(), metrics_batch()
    for b in (bad, inv, good):
        buffer.append(b)

    assert buffer.quarantine(bad["batch_id"], "422: samples.0.ts: too old") is False
    assert buffer.quarantine(inv["batch_id"], "413: too large") is True  # it had inventory

    assert drain_ids(buffer) == [good["batch_id"]]
    assert buffer.quarantined() == [
        (bad["batch_id"], "422: samples.0.ts: too old"),
        (inv["batch_id"], "413: too large"),
    ]
    assert buffer.stats().quarantined == 2


def test_quarantine_keeps_only_the_newest(tmp_path: Path) -> None:
    with Buffer(tmp_path / "b.db", max_quarantined=2) as buffer:
        batches = [metrics_batch() for _ in range(5)]
        for b in batches:
            buffer.append(b)
            buffer.quarantine(b["batch_id"], "refused")

        assert [bid for bid, _ in buffer.quarantined()] == [b["batch_id"] for b in batches[-2:]]


def test_seq_never_goes_back_not_even_when_empty_and_reopened(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    with Buffer(path) as buffer:
        for _ in range(3):
            buffer.append(metrics_batch())
        drain_ids(buffer)
    with Buffer(path) as buffer:
        batch = metrics_batch()
        buffer.append(batch)
    assert batch["seq"] == 3


def stored_size(batch: dict[str, Any]) -> int:
    """The compressed size the buffer will count for this batch."""
    return len(compress(encode({**batch, "batch_id": "0" * 32, "seq": 0})))


def test_size_bound_drops_oldest_metrics_and_strips_samples_from_inventory(
    tmp_path: Path,
) -> None:
    mixed = inventory_batch(with_samples=True)  # oldest: inventory and 40 points
    old_metrics = metrics_batch(40)
    inventory_only = inventory_batch(with_samples=False)
    newer = [metrics_batch(40) for _ in range(3)]
    everything = (mixed, old_metrics, inventory_only, *newer)
    # Room for all but the old metrics batch and the mixed batch's samples, plus slack that
    # is less than any one batch: exactly those two must give way.
    bound = (
        sum(stored_size(b) for b in everything)
        - stored_size(old_metrics)
        - (stored_size(mixed) - stored_size({**mixed, "samples": []}))
        + 200
    )

    with Buffer(tmp_path / "buffer.db", max_bytes=bound) as buffer:
        for b in everything:
            buffer.append(b)
        kept = buffer.batches()
        stats = buffer.stats()

    # Oldest first: the mixed batch lost its samples, the old metrics batch went; inventory
    # stayed whole, and the newest metrics survived.
    assert [b["batch_id"] for b in kept] == [
        mixed["batch_id"],
        inventory_only["batch_id"],
        *(b["batch_id"] for b in newer),
    ]
    assert kept[0]["samples"] == [] and kept[0]["inventory"] == mixed["inventory"]
    assert kept[1] == inventory_only
    assert kept[2:] == newer
    assert stats.bytes <= bound
    assert (stats.dropped_batches, stats.stripped_batches) == (1, 1)


def test_inventory_is_never_dropped_even_over_the_bound(tmp_path: Path) -> None:
    with Buffer(tmp_path / "b.db", max_bytes=2_000) as buffer:
        batches = [inventory_batch(200, with_samples=True) for _ in range(4)]
        for b in batches:
            buffer.append(b)
        buffer.append(metrics_batch())
        kept = buffer.batches()

    assert [b["batch_id"] for b in kept] == [b["batch_id"] for b in batches]
    assert all(b["samples"] == [] and b["inventory"] for b in kept)


def test_meta_written_with_the_batch(buffer: Buffer) -> None:
    buffer.append(inventory_batch(), remember={"inventory_hashes": '{"packages": "abc"}'})
    assert buffer.get_meta("inventory_hashes") == '{"packages": "abc"}'


def test_survives_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    batches = [metrics_batch(), inventory_batch()]
    with Buffer(path) as buffer:
        for b in batches:
            buffer.append(b)
        buffer.quarantine(batches[0]["batch_id"], "refused")

    with Buffer(path) as buffer:
        assert buffer.batches() == [batches[1]]
        assert buffer.stats().quarantined == 1
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


CHILD = textwrap.dedent(
    """
    import sys, time
    from forewarn.agent.buffer import Buffer
    buffer = Buffer(sys.argv[1])
    batch = {"v": 1, "sent_at": 1793000000.0, "samples": [], "inventory": {"full": True}}
    buffer.append(batch)
    print(batch["batch_id"], flush=True)
    time.sleep(60)
    """
)


def test_a_batch_survives_sigkill_right_after_append(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        batch_id = child.stdout.readline().strip()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL

    with Buffer(path) as buffer:
        item = buffer.oldest()
    assert item is not None and item[0] == batch_id
    assert decode(item[1])["inventory"] == {"full": True}
