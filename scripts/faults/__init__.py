"""Fault harness: the documented production set-up, faulted under load (issue 8).

``.venv/bin/python -m scripts.faults [--faults a,b,c,d,e,f] [--checkout DIR]`` deploys
PostgreSQL, Redis, two gunicorn hosts and nginx on this machine (stack.py, services.py), runs
SSE clients and POSTs (load.py), injects the faults (scenarios.py) and prints one row per fault
(accounting.py computes, report.py prints). Not part of ``make test``: a full run takes minutes.
"""
