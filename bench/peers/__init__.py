"""What a user could run instead of the connector, measured by `make bench` in the same run.

xdm_map.py        the bench mapping written by hand in plain Python (same envelope, checked by a test)
raw_worker.py     a hand-written confluent-kafka loop with N POSTs in flight
quix_worker.py    quix-streams with a batching sink (its own virtualenv: quix pins confluent-kafka)
stub_dcs.py       a minimal DCS stand-in (207 per batch), for client-side costs

Adapted from the team's peer harness (compare.py and its workers) so that `make bench` needs
nothing outside this repository. These modules import nothing from `connector`.
"""
