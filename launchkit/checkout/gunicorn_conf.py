"""gunicorn's settings for the checkout, for running gunicorn yourself::

    gunicorn --config python:launchkit.checkout.gunicorn_conf checkout_server:app

The same serving model as ``python checkout_server.py`` (launchkit.checkout.serving): gevent
workers with header and body deadlines, the grace period, the log format of ``LOG_FORMAT``,
``HOST``/``PORT`` and ``WEB_CONCURRENCY``. The app is built once, in gunicorn's master
(``preload_app``), so that the catalogue is checked once and every worker shares one
rate-limit store. Command-line options given to gunicorn win over these.
"""

# gevent's cooperative sockets must replace the standard ones before anything (ssl, urllib3,
# stripe) imports them, and gunicorn reads this file before it loads the app.
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

from launchkit.checkout.serving import gunicorn_settings, raise_open_files_limit  # noqa: E402

globals().update(gunicorn_settings(os.environ.get("LOG_FORMAT", "text").strip().lower()))
bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 1))
preload_app = True
raise_open_files_limit()
