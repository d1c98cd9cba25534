"""Settings of `[observers.<name>] kind = "prometheus"` (cheap to import: the registration hook loads it)."""

from __future__ import annotations

import attrs

from fundarb_core.config.validators import at_least, non_empty

__all__ = ["PrometheusConfig"]


def _port(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= 65535:
        raise ValueError(f"must be a TCP port (0-65535; 0 picks a free one), found {value}")


@attrs.frozen
class PrometheusConfig:
    """Where `/metrics` listens and how many distinct values a label may take.

    `host`/`port`: the address of the metrics endpoint (127.0.0.1 by default: put a reverse proxy or the
    Prometheus agent beside it rather than exposing it). `port = 0` picks a free port (tests). `symbol_labels`:
    label per-symbol metrics with the symbol (off: `symbol="all"`). `max_label_values`: the most distinct values
    one label takes on one metric family before further ones are reported as `other` (bounded cardinality).
    """

    host: str = attrs.field(default="127.0.0.1", validator=non_empty)
    port: int = attrs.field(default=9464, validator=_port)
    symbol_labels: bool = True
    max_label_values: int = attrs.field(default=50, validator=at_least(1))
