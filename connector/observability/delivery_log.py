"""The DCS sink's retry, throttling, token and split events, aggregated per inlet and cause.

One line each, called next to the metric increments in connector.aep.dcs:

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
    def __init__(self, events: EventAggregator | None = None) -> None:
        self.events = events or EventAggregator()

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
        key = {"inlet": route.inlet_url, "cause": cause}
        delay = round(delay_s, 3)
        if cause == "429":
            self.events.note(
                "dcs_throttled", key, status=status, retry_after_s=retry_after_s, delay_s=delay, attempt=attempt
            )
        elif cause == "ims":
            self.events.note("ims_unavailable", key, delay_s=delay, attempt=attempt, error=detail[:_DETAIL_LIMIT])
        else:
            self.events.note(
                "dcs_retry", key, status=status, retry_after_s=retry_after_s, delay_s=delay, attempt=attempt,
                error=detail[:_DETAIL_LIMIT],
            )  # fmt: skip

    def token_rejected(self, route: Route) -> None:
        """DCS answered 401: a fresh token is fetched and the request retried once at once."""
        self.events.note("dcs_token_rejected", {"inlet": route.inlet_url}, level="info", action="refresh_token")

    def split(self, route: Route, status: int, records: int) -> None:
        """A whole-request 413 (split) or 400 (bisect) halves the batch of `records` messages."""
        event = "dcs_batch_split" if status == 413 else "dcs_batch_bisect"
        self.events.note(event, {"inlet": route.inlet_url}, level="info", sums=("records",), status=status,
                         records=records)  # fmt: skip
