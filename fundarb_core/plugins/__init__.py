"""Plugin loading and the registry of venue kinds, close policies, risk managers, action types and transfers."""

from __future__ import annotations

from fundarb_core.plugins._manager import (
    DEFAULT_PLUGINS,
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    LOAD_ENV,
    BrokenPlugin,
    PluginInfo,
    Plugins,
    canonical_dist,
)
from fundarb_core.plugins._registry import CATEGORIES, HOOK_FOR, NOUN, Category, Register, Registration, Registry

__all__ = [
    "CATEGORIES",
    "DEFAULT_PLUGINS",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "HOOK_FOR",
    "LOAD_ENV",
    "NOUN",
    "BrokenPlugin",
    "Category",
    "PluginInfo",
    "Plugins",
    "Register",
    "Registration",
    "Registry",
    "canonical_dist",
]
