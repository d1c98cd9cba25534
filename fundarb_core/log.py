"""Logging set-up for the command line. The library itself never adds sinks (it is disabled on import)."""

from __future__ import annotations

import contextlib
import logging
import sys
import traceback
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, TextIO

from loguru import logger

from fundarb_core.secrets import redact

if TYPE_CHECKING:
    from loguru import Record

__all__ = ["RedactingSink", "configure_logging", "enable_plugin_logging", "install_excepthooks", "redirect_logging"]

_configured = False
_sink: RedactingSink | None = None

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
    global _configured, _sink
    _configured = True
    _sink = sink


def enable_plugin_logging(module_names: Iterable[str]) -> None:
    """Enable the logs of plugin packages that disabled themselves on import (as libraries should).

    Does nothing until `configure_logging` has run, so a command that configured no sink prints nothing.
    """
    if not _configured:
        return
    for name in {m.split(".", 1)[0] for m in module_names}:
        logger.enable(name)


@contextlib.contextmanager
def redirect_logging(stream: TextIO) -> Iterator[None]:
    """Write log lines to `stream` for a while (the live view's console, which prints them above the display).

    Secrets stay masked: only the stream behind the redacting sink changes. Does nothing when logging is not
    configured.
    """
    sink = _sink
    if sink is None:
        yield
        return
    previous, sink.stream = sink.stream, stream
    try:
        yield
    finally:
        sink.stream = previous


def _log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None, *, what: str = "uncaught exception"
) -> None:
    if _configured:
        logger.opt(exception=(exc_type, exc, tb)).critical(what)
    else:
        sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))


def _excepthook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    _log_uncaught(exc_type, exc, tb)


class _StdlibToLoguru(logging.Handler):
    """Forward stdlib log records (asyncio's exception handler logs to `asyncio`) to loguru's redacting sink."""

    def emit(self, record: logging.LogRecord) -> None:
        level = record.levelname if record.levelname in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL") else "ERROR"
        info = record.exc_info
        message = record.getMessage()
        if info is not None and info[0] is not None and info[1] is not None:
            if _configured:
                logger.opt(exception=info).log(level, "{}: {}", record.name, message)
            else:
                sys.stderr.write(redact(f"{record.name}: {message}\n" + "".join(traceback.format_exception(*info))))
        elif _configured:
            logger.log(level, "{}: {}", record.name, message)
        else:
            sys.stderr.write(redact(f"{record.name}: {message}\n"))


_HANDLER = _StdlibToLoguru()


def install_excepthooks() -> None:
    """Send uncaught exceptions through the redacting sink instead of Python's own printing.

    Covers the main thread (`sys.excepthook`) and asyncio's default exception handler (a task's exception never
    retrieved, a failing callback), which logs to the stdlib `asyncio` logger. Idempotent.
    """
    sys.excepthook = _excepthook
    asyncio_logger = logging.getLogger("asyncio")
    if _HANDLER not in asyncio_logger.handlers:
        asyncio_logger.addHandler(_HANDLER)
        asyncio_logger.propagate = False
