"""The shared pipeline database as a Dagster resource."""

from __future__ import annotations

import sqlalchemy as sa
from dagster import ConfigurableResource
from pydantic import Field

from video_dagster.db.lifecycle import Lifecycle


class DatabaseResource(ConfigurableResource):  # type: ignore[type-arg]
    """Pipeline database access: engine and the row-locked lifecycle."""

    url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the shared database; None = DATABASE_URL from the "
        "environment at run time, else the running embedded server.",
    )

    def get_engine(self) -> sa.Engine:
        """The pooled engine (one per URL per process)."""
        from video_dagster.db.engine import get_engine, resolve_database_url

        return get_engine(self.url or resolve_database_url(start_embedded=False))

    def lifecycle(self) -> Lifecycle:
        """Lifecycle transitions on this database."""
        return Lifecycle(self.get_engine())
