"""Data shipped with the core: the demo data set (real funding and price history, public domain)."""
