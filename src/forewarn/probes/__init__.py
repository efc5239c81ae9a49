"""Agentless checks, one module each.

Every probe module has a pydantic `Params` model (unknown fields refused), a
`validate(target, params) -> Params` that raises ValueError with a clear reason for a bad
definition (checked when a check is saved, before it ever runs), and
`async def run(target, params: Params, timeout) -> Result` that never raises and finishes
within its timeout. Shared resources (an aiohttp session, an SNMP engine) are passed in by
`runner.run_probe`. A module declaring `SELF_BOUNDED = True` bounds every await of its run
itself and takes `deadlines` (a `deadline.Deadlines`) to keep that limit with; run_probe then
adds no limit of its own. Probes import only `forewarn.domain`; never the database or the clock.
"""
