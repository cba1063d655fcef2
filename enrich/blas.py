"""One BLAS thread around the stories step's small matrix products.

numpy's OpenBLAS splits even a 200 x 4,000 product over every core, then its idle threads spin
for tens of milliseconds waiting for more work: on the 2-core machine a product of the stories
step cost 2x the CPU on two threads and charged ~45 core-ms of spinning to whatever ran next
(`python bench/stories_scale.py --warehouse 100000`: docs/stories.md). One thread does these
products in the same wall time.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any


@functools.cache
def _controller() -> Any | None:
    try:  # a declared dependency; without it the products just run on BLAS's own threads
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """BLAS limited to one thread inside the block (numpy's, and any other loaded)."""
    controller = _controller()
    if controller is None:
        yield
        return
    with controller.limit(limits=1, user_api="blas"):
        yield
