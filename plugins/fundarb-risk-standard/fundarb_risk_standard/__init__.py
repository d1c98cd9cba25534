"""The standard risk managers for fundarb: profit erosion, divergence flip, maximum age, and the combined waterfall.

Names load lazily: loading the plugin (every `fundarb` command does) costs only the config classes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fundarb_risk_standard.config import CombinedConfig, DivergenceFlipConfig, MaxAgeConfig, ProfitErosionConfig
    from fundarb_risk_standard.managers import (
        CombinedManager,
        DivergenceFlipManager,
        MaxAgeManager,
        ProfitErosionManager,
    )

_LAZY = {
    "CombinedConfig": "fundarb_risk_standard.config",
    "CombinedManager": "fundarb_risk_standard.managers",
    "DivergenceFlipConfig": "fundarb_risk_standard.config",
    "DivergenceFlipManager": "fundarb_risk_standard.managers",
    "MaxAgeConfig": "fundarb_risk_standard.config",
    "MaxAgeManager": "fundarb_risk_standard.managers",
    "ProfitErosionConfig": "fundarb_risk_standard.config",
    "ProfitErosionManager": "fundarb_risk_standard.managers",
}

__all__ = [
    "CombinedConfig",
    "CombinedManager",
    "DivergenceFlipConfig",
    "DivergenceFlipManager",
    "MaxAgeConfig",
    "MaxAgeManager",
    "ProfitErosionConfig",
    "ProfitErosionManager",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fundarb_risk_standard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
