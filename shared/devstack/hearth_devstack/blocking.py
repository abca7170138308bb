"""Run a coroutine to completion from synchronous code (the CLI, pytest fixtures).

The coroutine gets a fresh event loop on a worker thread, so this works whether or not the calling
thread has an event loop, running or merely installed (as pytest-asyncio leaves one), and never
replaces that loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hearth-devstack") as pool:
        return pool.submit(asyncio.run, coro).result()
