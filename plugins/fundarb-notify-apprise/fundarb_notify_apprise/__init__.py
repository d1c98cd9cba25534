"""fundarb observer that sends notifications a person reads on a phone, through apprise."""

from __future__ import annotations

from loguru import logger

from fundarb_notify_apprise.config import AppriseConfig, Target

logger.disable("fundarb_notify_apprise")  # a library stays quiet until the CLI enables its logs

__all__ = ["AppriseConfig", "Target"]
