"""The standard risk managers for fundarb: profit erosion, divergence flip, maximum age, and the combined waterfall.

Names load lazily: loading the plugin (every `fundarb` command does) costs only the config classes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core import lazy

if TYPE_CHECKING:
    from fundarb_risk_standard.config import CombinedConfig as CombinedConfig
    from fundarb_risk_standard.config import DivergenceFlipConfig as DivergenceFlipConfig
    from fundarb_risk_standard.config import MaxAgeConfig as MaxAgeConfig
    from fundarb_risk_standard.config import ProfitErosionConfig as ProfitErosionConfig
    from fundarb_risk_standard.managers import CombinedManager as CombinedManager
    from fundarb_risk_standard.managers import DivergenceFlipManager as DivergenceFlipManager
    from fundarb_risk_standard.managers import MaxAgeManager as MaxAgeManager
    from fundarb_risk_standard.managers import ProfitErosionManager as ProfitErosionManager

__getattr__, __dir__, __all__ = lazy.attach(__name__)
