"""Allocator settings for a server that streams large uploads.

Dataset uploads pass hundreds of megabytes through the API in 1 MiB blocks on several threads.
glibc raises its mmap threshold to the size of the first large block freed, after which such
blocks come from the per-thread arenas, whose freed memory stays resident: an upload's peak
then grows by some 25 MB (``benchmarks/upload.py``). A fixed threshold of 1 MiB keeps the
blocks in their own mappings, handed back to the system as soon as they are freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 1024 * 1024


def keep_large_blocks_out_of_arenas() -> bool:
    """Fix glibc's mmap threshold at 1 MiB; False where the C library is not glibc."""
    if platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
