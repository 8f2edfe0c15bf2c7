"""The sinks' retry, throttling, token and split events, aggregated per inlet (or datastream) and cause.

One line each, called next to the metric increments in connector.aep.dcs and connector.aep.edge
(whose events are named edge_* and keyed by datastream instead of inlet):

  dcs_throttled       429; `retry_after_s` is what DCS asked for, `delay_s` what the sink waits
                      (never less than Retry-After, capped as connector.aep.retry says)   warning
  dcs_retry           5xx, timeouts, connection errors, unreadable answers                warning
  ims_unavailable     no token could be fetched; the batch waits                          warning
  dcs_token_rejected  DCS answered 401: the token is dropped and fetched again            info
  dcs_batch_split     413: the batch is halved and re-sent                                info
  dcs_batch_bisect    400: the batch is halved until the bad record is alone              info

A storm is one line, then one line per 30 s window with `repeated=N` (see events.py).
"""

from __future__ import annotations

from connector.observability.events import EventAggregator
from connector.records import Route

_DETAIL_LIMIT = 300


class DeliveryEvents:
    def __init__(self, events: EventAggregator | None = None, *, prefix: str = "dcs") -> None:
        self.events = events or EventAggregator()
        self._prefix = prefix

    @staticmethod
    def _where(route: Route) -> dict[str, str]:
        if route.datastream_id is not None:
            return {"datastream": route.datastream_id}
        return {"inlet": route.inlet_url}

    def retry(
        self,
        route: Route,
        cause: str,
        status: int | None,
        attempt: int,
        *,
        delay_s: float,
        retry_after_s: float | None,
        detail: str = "",
    ) -> None:
        """A request (or part of a 207) will be sent again after `delay_s`."""
        key = {**self._where(route), "cause": cause}
        delay = round(delay_s, 3)
        name = self._prefix
        if cause == "429":
            self.events.note(
                f"{name}_throttled", key, status=status, retry_after_s=retry_after_s, delay_s=delay, attempt=attempt
            )
        elif cause == "ims":
            self.events.note("ims_unavailable", key, delay_s=delay, attempt=attempt, error=detail[:_DETAIL_LIMIT])
        else:
            self.events.note(
                f"{name}_retry", key, status=status, retry_after_s=retry_after_s, delay_s=delay, attempt=attempt,
                error=detail[:_DETAIL_LIMIT],
            )  # fmt: skip

    def token_rejected(self, route: Route) -> None:
        """DCS answered 401: a fresh token is fetched and the request retried once at once."""
        self.events.note(f"{self._prefix}_token_rejected", self._where(route), level="info", action="refresh_token")

    def split(self, route: Route, status: int, records: int) -> None:
        """A whole-request 413 (split) or 400 (bisect) halves the batch of `records` messages."""
        event = f"{self._prefix}_batch_split" if status == 413 else f"{self._prefix}_batch_bisect"
        self.events.note(event, self._where(route), level="info", sums=("records",), status=status,
                         records=records)  # fmt: skip
