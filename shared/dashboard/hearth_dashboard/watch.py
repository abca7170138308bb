"""Scrapes every service's /health and /metrics concurrently and turns a round into an Overview.

A service that does not answer is shown as unreachable rather than failing the page: the
dashboard is an aggregator and must stay up while the things it watches go down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from .overview import Observation, Overview, ServiceHealth, build_overview
from .samples import SampleHistory, ServiceSample, parse_sample


class Watch:
    def __init__(
        self,
        services: dict[str, str],
        client: httpx.AsyncClient,
        history: SampleHistory,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = services
        self.client = client
        self.history = history
        self.clock = clock
        # One round at a time: samples enter the history in the order they were taken.
        self._round = asyncio.Lock()

    async def overview(self) -> Overview:
        async with self._round:
            observations = await asyncio.gather(
                *(self._observe(name, url) for name, url in self.services.items())
            )
        return build_overview(list(observations), self.history.window_s)

    async def _observe(self, name: str, url: str) -> Observation:
        health, text = await asyncio.gather(self._health(url), self._metrics(url))
        sample = self._parse(name, text)
        if sample is None:
            self.history.forget(name)
            baseline = None
        else:
            baseline = self.history.add(sample)
        return Observation(name, url, health, sample, baseline)

    def _parse(self, name: str, text: str | None) -> ServiceSample | None:
        if text is None:
            return None
        try:
            return parse_sample(name, text, self.clock())
        except ValueError:
            return None

    async def _health(self, url: str) -> ServiceHealth:
        try:
            response = await self.client.get(f"{url}/health")
        except httpx.HTTPError:
            return ServiceHealth("unreachable")
        try:
            body = response.json()
        except ValueError:
            body = {}
        checks = body.get("checks") if isinstance(body, dict) else None
        status = "ok" if response.status_code == 200 else "degraded"
        return ServiceHealth(
            status,
            response.status_code,
            {str(k): str(v) for k, v in checks.items()} if isinstance(checks, dict) else {},
        )

    async def _metrics(self, url: str) -> str | None:
        try:
            response = await self.client.get(f"{url}/metrics")
        except httpx.HTTPError:
            return None
        return response.text if response.status_code == 200 else None
