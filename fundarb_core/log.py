"""Logging set-up for the command line. The library itself never adds sinks (it is disabled on import)."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, TextIO

from loguru import logger

from fundarb_core.secrets import redact

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["RedactingSink", "configure_logging", "enable_plugin_logging"]

_configured = False

HUMAN_FORMAT = (
    "<green>{time:YYYY-MM-DD HH:mm:ss.SSS}</green> <level>{level: <7}</level> "
    "<cyan>{name}</cyan> {message}{extra[extra_text]}"
)


class RedactingSink:
    """A text sink that masks every known secret in the fully formatted record (message, extras, traceback).

    Masking the final text, rather than the record's fields, catches a secret wherever formatting put it: in a
    bound value, an exception message, a traceback line, or escaped inside a JSON line.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, message: str) -> None:
        self.stream.write(redact(message))

    def flush(self) -> None:
        self.stream.flush()


def _extra_text(record: Record) -> None:
    """Render bound context (`logger.bind(venue=...)`) as ` key=value` pairs after the message."""
    shown = {k: v for k, v in record["extra"].items() if k != "extra_text"}
    record["extra"]["extra_text"] = "".join(f" {k}={v}" for k, v in shown.items())


def _no_patch(record: Record) -> None:
    """Leave the record as it is (JSON lines carry the bound context in `record.extra` already)."""


def configure_logging(*, level: str = "INFO", json: bool = False, stream: TextIO | None = None) -> None:
    """Enable fundarb's logs: human text, or JSON lines with `json=True`, secrets masked either way.

    Replaces every sink loguru had. Tracebacks are logged without variable values (`diagnose=False`), so a secret
    held in a local variable is not printed in the first place.
    """
    out = stream if stream is not None else sys.stderr
    logger.remove()
    sink = RedactingSink(out)
    if json:
        logger.configure(patcher=_no_patch)
        logger.add(sink, level=level, serialize=True, backtrace=False, diagnose=False)
    else:
        logger.configure(patcher=_extra_text)
        colorize = hasattr(out, "isatty") and out.isatty()
        logger.add(sink, level=level, format=HUMAN_FORMAT, colorize=colorize, backtrace=False, diagnose=False)
    logger.enable("fundarb_core")
    global _configured
    _configured = True


def enable_plugin_logging(module_names: Iterable[str]) -> None:
    """Enable the logs of plugin packages that disabled themselves on import (as libraries should).

    Does nothing until `configure_logging` has run, so a command that configured no sink prints nothing.
    """
    if not _configured:
        return
    for name in {m.split(".", 1)[0] for m in module_names}:
        logger.enable(name)
