"""``--executor URL``: one fleet run sharded over worker processes on several machines.

Celery on Redis carries the tasks; Redis also holds the run's shared state (failure budget, batch
barrier, results), changed only by atomic Lua scripts.  Nothing here is imported unless
``--executor`` is given or ``fix502 worker`` runs: the in-process executor stays the default.
"""
