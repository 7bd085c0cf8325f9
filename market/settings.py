"""Settings from the environment (and an optional `.env`), as listed in API.md "Running"."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = None
    market_data_dir: Path = Path(".market")
    market_operator_token: SecretStr | None = None
    market_key_encryption_key: SecretStr | None = None
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None
    db_pool_size: int = 25
    # Set by `market serve --workers N` for each worker (see market.workers).
    market_peer_dir: Path | None = None
    market_worker_index: int = 0
    market_workers: int = 1
    market_route_orders: bool = True  # hand orders to their instrument's home worker
    market_tune_gc: bool = False  # set by `market serve`: freeze start-up objects, gen0 20k
    # Oversight: surveillance reads new trades and cancels every second; the invariant watch
    # runs every invariant this often (0 turns it off) on one worker, halting on a violation.
    market_surveillance_interval_s: float = 1.0
    market_invariant_interval_s: float = 60.0
    # Profiling: count and time every SQL statement, written per worker at shutdown
    # (`market.db.statement_stats`; used by bench/profile_writes.py). Off unless set.
    market_statement_stats: Path | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
