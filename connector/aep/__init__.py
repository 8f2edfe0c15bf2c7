"""Delivery to AEP: the DCS and Edge Network sinks, response classification, retry policy, IMS tokens, HTTP transport.

base.py       HttpSink: what both sinks share (session, clock, tokens, backoff, waits, scrubbing)
dcs.py        DcsSink: batches to /collection/batch (or single messages), splits, retries
edge.py       EdgeSink: events to the Edge Network's /ee/v2/collect per datastream, bisects, retries
exeg.py       Edge Network answers: EXEG problem codes -> what the Edge sink does
responses.py  HTTP status -> what to do; 207 bodies parsed by position; Retry-After
retry.py      exponential backoff with full jitter, Retry-After as a floor
ims.py        TokenProvider: OAuth server-to-server tokens, cached and refreshed
ratelimit.py  token buckets shared by the sink's threads
transport.py  the requests Session (pool, TLS, proxy) and timeouts
wire.py       the batch body and its exact size
"""
