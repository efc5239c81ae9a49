"""The recorder's bulk write of raw check results, on each engine."""

from __future__ import annotations

from sqlalchemy import select

from forewarn.services.context import Context
from forewarn.store.bulk import insert_ignore_triples
from forewarn.store.models import CheckResult


def test_raw_results_keep_the_first_of_a_repeated_second_and_skip_stored_ones(ctx: Context):
    table = CheckResult.__table__
    with ctx.db.transaction() as s:
        insert_ignore_triples(s, table, [(7, 100, 0)])  # type: ignore[arg-type]
    with ctx.db.transaction() as s:
        # 600 rows: several multi-row statements; (7, 100) is stored already; (8, 5) twice
        # in one group keeps the first given, not the lowest status.
        rows = [(8, 5, 2), (7, 100, 3), (8, 5, 0)] + [(9, t, t % 4) for t in range(597)]
        insert_ignore_triples(s, table, rows)  # type: ignore[arg-type]
    with ctx.db.read() as s:
        stored = {(r.check_id, r.ts): r.status for r in s.scalars(select(CheckResult))}
    assert stored[(7, 100)] == 0
    assert stored[(8, 5)] == 2
    assert len(stored) == 2 + 597
    assert all(stored[(9, t)] == t % 4 for t in range(597))
