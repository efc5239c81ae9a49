"""Which check types exist and where their code lives.

Active types are run by the poller through their probe module. Passive types are not run: a
heartbeat waits for pings on its push URL, an agent check reads what the agent reported,
a forecast or anomaly check reads the asset's stored series.
Modules are imported on first use, so the CLI's `forewarn check tcp` does not load pysnmp.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from pydantic import BaseModel

ACTIVE = ("ping", "tcp", "http", "tls", "dns", "snmp", "nagios", "prometheus")
PASSIVE = ("heartbeat", "agent", "forecast", "anomaly")
TYPES = ACTIVE + PASSIVE


_MODULES: dict[str, ModuleType] = {}


def module(check_type: str) -> ModuleType:
    found = _MODULES.get(check_type)
    if found is not None:  # every run of every check asks: import_module costs ~3 us a time
        return found
    if check_type not in TYPES:
        raise ValueError(f"unknown check type {check_type!r}; one of: {', '.join(TYPES)}")
    found = _MODULES[check_type] = importlib.import_module(f"forewarn.probes.{check_type}")
    return found


def validate(
    check_type: str,
    target: str,
    params: Mapping[str, Any],
    *,
    plugin_dirs: Sequence[str] | None = None,
) -> BaseModel:
    """The probe's own Params for this definition; ValueError saying what is wrong.

    `plugin_dirs`: where Nagios plugins may live (the server's setting; None: the defaults).
    It is never a check parameter: whoever may define a check must not choose what runs.
    """
    mod = module(check_type)
    if check_type == "nagios":
        nagios: BaseModel = mod.validate(target, params, allowed_dirs=plugin_dirs)
        return nagios
    result: BaseModel = mod.validate(target, params)
    return result
