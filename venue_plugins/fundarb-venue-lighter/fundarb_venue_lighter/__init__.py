"""fundarb's venue for Lighter, a zk-rollup perpetuals exchange whose orders are signed transactions.

Keep this module light: fundarb imports the plugin's package whenever it starts (even for `fundarb --help`), so
the venue, the SDK and its native signer are imported only when a venue is built.
"""

from __future__ import annotations

from loguru import logger

# A library never prints unless asked: the `fundarb` command line enables each plugin's logs when it configures
# logging.
logger.disable("fundarb_venue_lighter")
