"""Run specs for real: a Celery job queue whose workers build the spec in torch and measure it.

The web app imports only :mod:`app.worker.models`, :mod:`app.worker.guards` and
:mod:`app.worker.client` (Celery, no torch); :mod:`app.worker.measure` (torch) is imported only
by a worker. ``python -m app.worker`` starts a worker for the ``ARCHCALC_*`` environment.
"""
