"""DogStatsD metrics of a step. Metrics never fail a step: no agent, no metrics, no error."""
from __future__ import annotations

import os
from collections.abc import Sequence


class Metrics:
    def __init__(self, tags: list) -> None:
        self.tags = tags
        self._statsd = None
        host = os.environ.get("DD_AGENT_HOST")
        if not host:
            return  # no agent: not even the client is loaded
        try:
            from datadog.dogstatsd import DogStatsd

            self._statsd = DogStatsd(host=host, port=int(os.environ.get("DD_DOGSTATSD_PORT", "8125")),
                                     disable_telemetry=True)
        except Exception:  # noqa: BLE001 - an absent or broken agent must not fail the step
            self._statsd = None

    def _send(self, kind: str, name: str, value, tags: list) -> None:
        if self._statsd is None:
            return
        try:
            getattr(self._statsd, kind)(name, value, tags=self.tags + tags)
            self._statsd.flush()
        except Exception:  # noqa: BLE001
            pass

    def histogram(self, name: str, value: float, tags: Sequence[str] = ()) -> None:
        self._send("histogram", name, value, list(tags))

    def increment(self, name: str, tags: Sequence[str] = ()) -> None:
        self._send("increment", name, 1, list(tags))

    def gauge(self, name: str, value: float, tags: Sequence[str] = ()) -> None:
        self._send("gauge", name, value, list(tags))
