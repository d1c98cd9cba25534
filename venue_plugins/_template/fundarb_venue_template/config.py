"""The settings of a `[venues.<id>] kind = "template"` section, validated by fundarb with their key paths."""

from __future__ import annotations

from datetime import timedelta

import attrs

from fundarb_core.config.validators import non_empty, positive_duration
from fundarb_core.secrets import Secret


@attrs.frozen
class TemplateVenueConfig:
    """Credentials and connection settings.

    Keys are `Secret`s: write them as `"env:NAME"` in the file so they come from the environment; fundarb masks
    them in logs and in `fundarb config show`. Durations are written as text (`"10s"`); money as decimal strings.
    """

    api_key: Secret
    api_secret: Secret
    base_url: str = attrs.field(default="https://api.example.invalid", validator=non_empty)
    timeout: timedelta = attrs.field(default=timedelta(seconds=10), validator=positive_duration)
