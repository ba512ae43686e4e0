"""gunicorn settings for Quorum: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

Requests are short and mostly Python work with one or two database round trips, so sync workers (one request
each, a persistent database connection each: DATABASE_CONN_MAX_AGE) at two per core keep the cores busy
while some wait on PostgreSQL; threads would share one interpreter lock and add nothing here. On a 2-core
machine that also runs PostgreSQL that is 4 workers. GUNICORN_WORKERS and GUNICORN_THREADS override.
"""

import os

workers = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1)))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Heartbeat files in memory, not on disk: the directory gunicorn documents for this.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
timeout = 30
