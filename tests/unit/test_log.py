"""Logging: a configured secret never reaches the output, in text or JSON, wherever it was put."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from loguru import logger

from fundarb_core.log import configure_logging, redirect_logging
from fundarb_core.secrets import MASK, Secret, known_secrets, redact

KEY = Secret("sk-live-4f9a1c2e7b6d5a3f")
# Characters that JSON and repr escape: the secret must be masked in its escaped spellings too.
ODD = Secret('sk-live-"quoted"\\back\\slash')


def _log_everywhere(secret: Secret) -> None:
    value = secret.reveal()
    logger.info("signing with {}", value)
    logger.info(f"header X-API-KEY: {value}")
    logger.bind(venue="aster", api_key=value).warning("bound")
    logger.info("payload {}", {"key": value, "nested": [value]})
    logger.info("as a Secret: {}", secret)
    try:
        raise PermissionError(f"venue refused key {value}")
    except PermissionError:
        logger.exception("request failed")


@pytest.mark.parametrize("log_output", [False, True], ids=["text", "json"], indirect=True)
@pytest.mark.parametrize("secret", [KEY, ODD], ids=["plain", "escaped"])
def test_secret_never_appears(log_output: io.StringIO, secret: Secret) -> None:
    _log_everywhere(secret)
    text = log_output.getvalue()
    assert secret.reveal() not in text
    assert json.dumps(secret.reveal())[1:-1] not in text
    assert repr(secret.reveal())[1:-1] not in text
    # The lines are all there, masked.
    assert text.count(MASK) >= 6
    assert "request failed" in text
    assert "PermissionError: venue refused key ***" in text.replace("\\n", "\n")
    assert "venue=aster" in text or '"venue": "aster"' in text


def test_text_lines_show_bound_context(log_output: io.StringIO) -> None:
    logger.bind(venue="lighter", position=7).info("order sent")
    (line,) = log_output.getvalue().splitlines()
    assert line.endswith("order sent venue=lighter position=7")
    assert " INFO " in line


@pytest.mark.parametrize("log_output", [True], ids=["json"], indirect=True)
def test_json_lines_are_valid_json(log_output: io.StringIO) -> None:
    logger.bind(venue="lighter").info("order {} sent", KEY.reveal())
    (line,) = log_output.getvalue().splitlines()
    record = json.loads(line)["record"]
    assert record["message"] == f"order {MASK} sent"
    assert record["extra"] == {"venue": "lighter"}  # no rendering helpers leak into the record


def test_level_filters(log_output: io.StringIO) -> None:
    configure_logging(level="WARNING", stream=log_output)
    logger.info("hidden")
    logger.warning("shown")
    assert "hidden" not in log_output.getvalue()
    assert "shown" in log_output.getvalue()


def test_library_is_silent_until_configured() -> None:
    from fundarb_core import hookimpl
    from fundarb_core.plugins import Plugins

    class Failing:
        @hookimpl
        def fundarb_on_event(self, event: object) -> None:
            raise RuntimeError("observer broke")

    manager = Plugins()
    manager.register(Failing(), name="failing")
    stream = io.StringIO()
    handler = logger.add(stream)
    try:
        manager.emit("event")  # fundarb_core logs the observer's error: disabled, so nothing shows
        logger.enable("fundarb_core")
        manager.emit("event")
    finally:
        logger.remove(handler)
        logger.disable("fundarb_core")
    assert stream.getvalue().count("event observer failing failed") == 1


def test_redact_masks_every_known_secret() -> None:
    Secret("abc")  # too short to be remembered: would mask ordinary text
    assert "abc" not in known_secrets()
    assert KEY.reveal() in known_secrets()
    assert redact(f"a {KEY.reveal()} b abc") == f"a {MASK} b abc"
    longer = Secret(KEY.reveal() + "-extended")
    assert redact(longer.reveal()) == MASK  # the longer secret is masked whole, not leaving "-extended"


def test_redirected_lines_go_to_the_new_stream_masked_then_back(log_output: io.StringIO) -> None:
    console = io.StringIO()
    with redirect_logging(console):
        logger.info("during the live view, key {}", KEY.reveal())
    logger.info("after it")
    assert f"during the live view, key {MASK}" in console.getvalue()
    assert KEY.reveal() not in console.getvalue()
    assert "during" not in log_output.getvalue()
    assert "after it" in log_output.getvalue()
    assert "after it" not in console.getvalue()


def test_the_library_is_silent_even_though_loguru_loads_after_it() -> None:
    """`import fundarb_core` does not import loguru (it is slow to import); the disable still runs once loguru loads."""
    code = (
        "import sys, fundarb_core\n"
        "assert 'loguru' not in sys.modules\n"
        "from loguru import logger\n"
        "logger.remove(); logger.add(sys.stdout, format='{message}')\n"
        "from fundarb_core.plugins import Plugins\n"
        "class Broken:\n"
        "    @fundarb_core.hookimpl\n"
        "    def fundarb_on_event(self, event): raise RuntimeError('observer broke')\n"
        "plugins = Plugins(); plugins.register(Broken(), name='broken')\n"
        "plugins.emit('hidden')\n"
        "logger.enable('fundarb_core')\n"
        "plugins.emit('shown')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "failed on hidden" not in done.stdout
    assert done.stdout.splitlines()[0] == "event observer broken failed on shown"  # then its traceback
