"""fundarb observer that exports Prometheus metrics on its own `/metrics` endpoint."""

from __future__ import annotations

from loguru import logger

from fundarb_metrics_prometheus.config import PrometheusConfig

logger.disable("fundarb_metrics_prometheus")  # a library stays quiet until the CLI enables its logs

__all__ = ["PrometheusConfig"]
