"""The plugin's modules import each other without cycles (type-checking imports included)."""

from __future__ import annotations

import grimp


def test_no_import_cycles() -> None:
    graph = grimp.build_graph("fundarb_venue_lighter", exclude_type_checking_imports=False)
    cycles = [
        (module, imported)
        for module in sorted(graph.modules)
        for imported in sorted(graph.find_modules_directly_imported_by(module))
        if imported.startswith("fundarb_venue_lighter") and graph.chain_exists(importer=imported, imported=module)
    ]
    assert cycles == []
