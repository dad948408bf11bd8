"""Last entry of the step forkserver's preload list: freeze what the preload imported.

Forked step processes share the forkserver's pages until they write to them, and the cyclic
garbage collector writes to every object it scans (its header). Frozen objects are never scanned,
so the imported modules stay shared by every step instead of being copied into each one
(bench/waiting_memory.py measures the difference).
"""

import gc

gc.freeze()
