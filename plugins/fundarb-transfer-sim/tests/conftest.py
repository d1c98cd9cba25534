"""Hypothesis profiles, as in the core's tests: `dev` by default, `ci` (more examples) when HYPOTHESIS_PROFILE says."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=200, deadline=None)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
