"""Test support for fundarb and its plugins: the venue contract suite and hypothesis strategies.

`fundarb_core.testing.pytest_plugin` is loaded by pytest in every run (entry point `pytest11`), so this package
stays cheap to import: `VenueContract` and `strategies` load on first use (`strategies` needs hypothesis, from the
`[test]` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fundarb_core import lazy

if TYPE_CHECKING:
    from fundarb_core.testing import strategies as strategies
    from fundarb_core.testing.contract import Driver as Driver
    from fundarb_core.testing.contract import VenueContract as VenueContract

__getattr__, __dir__, __all__ = lazy.attach(__name__)
