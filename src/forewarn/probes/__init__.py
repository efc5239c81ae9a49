"""Agentless checks, one module each.

Every probe module exposes `async def run(target: str, params: Mapping, timeout: float) ->
Result` and `def validate(target: str, params: Mapping) -> None`, which raises ValueError
with a clear reason for a bad definition (checked when a check is saved, before it ever runs).
Probes import only `forewarn.domain`; they never touch the database or the clock.
"""
