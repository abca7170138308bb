"""Coalescing of concurrent single-item commands into one set-based unit of work.

On these machines a database round trip costs far more than the work it carries, so a command
that each HTTP request runs alone (one referral, one coverage check) runs instead in batches:
each request submits its command and awaits its own result; one task per process drains what is
queued into ONE transaction through a set-based function, the same function bulk imports use.
There is no timer: at low load a batch is one command and adds no latency; under load, requests
that arrive while a batch commits form the next one.

If the set-based function fails, the batch is retried one command per transaction, so a bad
command fails alone with its own error and nothing of it is half-written.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from .db import Database, UnitOfWork

C = TypeVar("C")
R = TypeVar("R")
SetBased = Callable[[UnitOfWork, Sequence[C]], Awaitable[Sequence[R]]]

log = logging.getLogger("hearth.coalesce")


class Coalescer(Generic[C, R]):
    def __init__(self, db: Database, fn: SetBased[C, R], max_batch: int = 256) -> None:
        self.db = db
        self.fn = fn
        self.max_batch = max_batch
        self._queue: list[tuple[C, asyncio.Future[R]]] = []
        self._drainer: asyncio.Task[None] | None = None

    async def submit(self, command: C) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((command, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            live = [(c, f) for c, f in batch if not f.done()]
            if not live:
                continue
            try:
                results = await self._run([c for c, _ in live])
            except Exception as exc:
                if len(live) == 1:
                    _fail(live[0][1], exc)
                    continue
                log.info("batch failed, retrying its commands one by one", extra={"size": len(live)})
                for command, future in live:
                    try:
                        _resolve(future, (await self._run([command]))[0])
                    except Exception as exc:
                        _fail(future, exc)
                continue
            for (_, future), result in zip(live, results, strict=True):
                _resolve(future, result)

    async def _run(self, commands: Sequence[C]) -> Sequence[R]:
        async with self.db.unit_of_work() as uow:
            results = await self.fn(uow, commands)
            await uow.commit()
        return results


def _resolve(future: asyncio.Future[R], result: R) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[R], exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
