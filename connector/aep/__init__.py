"""Delivery to AEP: the DCS sink, response classification, retry policy, IMS tokens, HTTP transport.

dcs.py        DcsSink: batches to /collection/batch (or single messages), splits, retries
responses.py  HTTP status -> what to do; 207 bodies parsed by position; Retry-After
retry.py      exponential backoff with full jitter, Retry-After as a floor
ims.py        TokenProvider: OAuth server-to-server tokens, cached and refreshed
ratelimit.py  token buckets shared by the sink's threads
transport.py  the requests Session (pool, TLS, proxy) and timeouts
wire.py       the batch body and its exact size
"""
