"""Plugin loading and the registry of venue kinds, close policies, risk managers, action types and transfers.

Names load lazily (`fundarb_core.lazy`): `fundarb --help` reads installed plugins' commands from
`fundarb_core.plugins._entry` without paying for pluggy and the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core import lazy

if TYPE_CHECKING:
    from fundarb_core.plugins._entry import DISABLE_ENV as DISABLE_ENV
    from fundarb_core.plugins._entry import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
    from fundarb_core.plugins._entry import LOAD_ENV as LOAD_ENV
    from fundarb_core.plugins._entry import canonical_dist as canonical_dist
    from fundarb_core.plugins._manager import DEFAULT_PLUGINS as DEFAULT_PLUGINS
    from fundarb_core.plugins._manager import BrokenPlugin as BrokenPlugin
    from fundarb_core.plugins._manager import PluginInfo as PluginInfo
    from fundarb_core.plugins._manager import Plugins as Plugins
    from fundarb_core.plugins._registry import CATEGORIES as CATEGORIES
    from fundarb_core.plugins._registry import HOOK_FOR as HOOK_FOR
    from fundarb_core.plugins._registry import NOUN as NOUN
    from fundarb_core.plugins._registry import Category as Category
    from fundarb_core.plugins._registry import Register as Register
    from fundarb_core.plugins._registry import Registration as Registration
    from fundarb_core.plugins._registry import Registry as Registry

__getattr__, __dir__, __all__ = lazy.attach(__name__)
