"""Logging set-up for the command line. The library itself never adds sinks (it is disabled on import)."""

from __future__ import annotations

import sys
from typing import TextIO

from loguru import logger

from fundarb_core.secrets import redact

__all__ = ["RedactingSink", "configure_logging"]

HUMAN_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{name}</cyan> {message}{extra_text}"
)


class RedactingSink:
    """A text sink that masks every known secret in the fully formatted record (message, extras, traceback)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, message: str) -> None:
        self.stream.write(redact(message))

    def flush(self) -> None:
        self.stream.flush()


def _extra_text(record: dict[str, object]) -> None:
    extra = record["extra"]
    assert isinstance(extra, dict)
    shown = {k: v for k, v in extra.items() if k != "extra_text"}
    extra["extra_text"] = (" " + " ".join(f"{k}={v}" for k, v in shown.items())) if shown else ""


def configure_logging(*, level: str = "INFO", json: bool = False, stream: TextIO | None = None) -> None:
    """Enable fundarb's logs: human text, or JSON lines with `json=True`, secrets masked either way."""
    out = stream if stream is not None else sys.stderr
    logger.remove()
    logger.configure(patcher=_extra_text)  # type: ignore[arg-type]
    sink = RedactingSink(out)
    if json:
        logger.add(sink, level=level, serialize=True, backtrace=False, diagnose=False)
    else:
        colorize = hasattr(out, "isatty") and out.isatty()
        logger.add(sink, level=level, format=HUMAN_FORMAT, colorize=colorize, backtrace=False, diagnose=False)
    for name in ("fundarb_core", "fundarb_"):
        logger.enable(name)
