"""What every use case needs: the database, the clock and the settings."""

from __future__ import annotations

from dataclasses import dataclass

from forewarn.config import Settings
from forewarn.domain.clock import Clock, SystemClock
from forewarn.store.db import Database


@dataclass
class Context:
    db: Database
    settings: Settings
    clock: Clock

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Context:
        return cls(Database(settings.effective_database_url), settings, clock or SystemClock())
