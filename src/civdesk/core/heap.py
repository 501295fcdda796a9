"""The garbage collector in a long-running process (`civdesk serve`, `worker`, `demo`).

After start-up almost every object lives as long as the process: modules, the app and its routes,
the channels' client libraries (loading them doubles the heap, to some 300,000 objects). A full collection
walks every tracked object, so it stalls the event loop, and every webhook and websocket push with
it, for as long as the heap is big: 90–280 ms on a 2-core VM with the Telegram adapter loaded, six
times in the first 40 s of bench/ingest.py, which made the p99 at half the maximum swing between
30 and 380 ms. Frozen (`gc.freeze`), the start-up heap is left out of every collection; what
requests create and drop is still collected as before.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Call once, after everything the process loads at start-up is loaded, before it serves."""
    gc.collect()
    gc.freeze()
