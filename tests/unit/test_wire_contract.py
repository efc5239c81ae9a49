"""What the agent really collects on this machine is what the server accepts.

The agent builds plain dicts so it need not import pydantic; this test is where they meet
forewarn.wire's models.
"""

from __future__ import annotations

import subprocess
import sys
import time

from forewarn import wire
from forewarn.agent.collect import SECTIONS, changed_sections, collect_inventory
from forewarn.agent.collectors.metrics import MetricsCollector


def test_a_real_inventory_validates() -> None:
    inventory = collect_inventory()
    parsed = wire.Inventory.model_validate(inventory)
    assert parsed.full is True
    assert parsed.system is not None and parsed.system.hostname
    assert parsed.accounts


def test_a_partial_inventory_validates() -> None:
    inventory = collect_inventory()
    partial = changed_sections(inventory, {})
    assert wire.Inventory.model_validate(partial).full is False


def test_agent_sections_are_the_wire_sections() -> None:
    assert SECTIONS == wire.SECTIONS


def test_real_samples_validate_alone_and_in_a_batch() -> None:
    collector = MetricsCollector()
    first = collector.sample(time.time())
    time.sleep(0.5)
    second = collector.sample(time.time())
    for sample in (first, second):
        wire.Sample.model_validate(sample)
    batch = {
        "batch_id": "0" * 32,
        "seq": 1,
        "sent_at": time.time(),
        "samples": [first, second],
        "inventory": collect_inventory(),
    }
    wire.Batch.model_validate(batch)


def test_the_agent_does_not_import_pydantic_or_sqlalchemy() -> None:
    code = (
        "import forewarn.agent.collect, sys; "
        "print('pydantic' in sys.modules, 'sqlalchemy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
