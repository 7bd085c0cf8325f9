"""Log output: one line per event, UTC timestamps, plain tracebacks.

structlog's default renders exceptions with `rich`, locals included: hundreds of milliseconds
of CPU per traceback on the event loop, which stalled every request while a database outage
produced a traceback per failed call.
"""

from __future__ import annotations

import structlog


def configure_logging() -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.dev.ConsoleRenderer(
                colors=False, exception_formatter=structlog.dev.plain_traceback
            ),
        ],
        cache_logger_on_first_use=True,
    )
