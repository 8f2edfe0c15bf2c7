"""Several worker processes from one deployment unit: `aep-connector run --processes N`.

supervisor.py  starts, watches, restarts and stops the N children
child.py       one child: the normal worker, reporting its status over a pipe
health.py      /healthz and /readyz over every child
run.py         wiring: config check, multiprocess metrics, endpoints, signals
"""
