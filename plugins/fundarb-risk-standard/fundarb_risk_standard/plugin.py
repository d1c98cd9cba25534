"""Registers `profit_erosion`, `divergence_flip`, `max_age` and `combined` through `fundarb_register_risk_managers`.

The hook runs whenever plugins load (every `fundarb` command), so it imports only the light config classes; the
managers' module loads when a factory first builds one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fundarb_core import hookimpl
from fundarb_core.plugins import Register

__all__ = ["fundarb_register_risk_managers"]


def _factory(class_name: str) -> Callable[[Any], Any]:
    """Return `factory(config)` building `managers.<class_name>`, importing that module on first call."""

    def factory(config: Any) -> Any:
        from fundarb_risk_standard import managers

        return getattr(managers, class_name)(config)

    factory.__qualname__ = factory.__name__ = f"build_{class_name}"
    return factory


@hookimpl
def fundarb_register_risk_managers(register: Register) -> None:
    from fundarb_risk_standard.config import CombinedConfig, DivergenceFlipConfig, MaxAgeConfig, ProfitErosionConfig

    register("profit_erosion", ProfitErosionConfig, _factory("ProfitErosionManager"))
    register("divergence_flip", DivergenceFlipConfig, _factory("DivergenceFlipManager"))
    register("max_age", MaxAgeConfig, _factory("MaxAgeManager"))
    register("combined", CombinedConfig, _factory("CombinedManager"))
