"""Registers the observer kind `prometheus` through `fundarb_register_observers` (the exporter loads when built)."""

from __future__ import annotations

from typing import Any

from fundarb_core import hookimpl
from fundarb_core.plugins import Register

__all__ = ["fundarb_register_observers"]


def build_exporter(config: Any, context: Any) -> Any:
    from fundarb_metrics_prometheus.exporter import PrometheusExporter

    return PrometheusExporter(config, name=context.name, store=context.store)


@hookimpl
def fundarb_register_observers(register: Register) -> None:
    from fundarb_metrics_prometheus.config import PrometheusConfig

    register("prometheus", PrometheusConfig, build_exporter)
