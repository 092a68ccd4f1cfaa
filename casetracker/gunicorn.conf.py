"""Gunicorn, the production web server: `gunicorn -c casetracker/gunicorn.conf.py`.

Every value can be changed from the environment (names below); `make serve` uses this file as
is. Read once by the master process at start (and again on SIGHUP)."""

import os

from gunicorn.glogging import Logger

wsgi_app = "casetracker.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")]


def _cores() -> int:
    # The cores this process may run on (a container's cpuset), not the machine's.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


# Processes: the usual 2 x cores + 1, at most 8 by default. Each thread of each process keeps a
# database connection open (CONN_MAX_AGE): 8 x 4 = 32 per machine, so a few web machines stay
# within PostgreSQL's default of 100 connections. WEB_CONCURRENCY sets it outright.
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * _cores() + 1, 8)))
# Threads rather than sync workers: field staff are on 400 kbps links, and a sync worker is held
# by one slow client for the whole upload and download (sync workers need a buffering proxy in
# front); a thread is held instead, and idle keep-alive connections hold none. Requests spend
# much of their time waiting on PostgreSQL, during which the other threads run.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# A process silent this long is killed and replaced. With threads the process keeps reporting
# while its requests run, so this catches a process stuck as a whole; what one request may wait
# for the database is bounded by the statement timeout (DB_STATEMENT_TIMEOUT_MS).
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
# On SIGTERM (a deploy, `make serve` stopping): requests in progress get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", 30))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 5))
# Each process is replaced after about this many requests (the jitter keeps them from all
# restarting at once), so memory that grows slowly (PDF fonts, caches) is given back.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 1000))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", 100))
# Each process imports the application itself after the fork: nothing made at import (a
# database or broker connection, a connection pool) is ever shared between processes. It costs
# memory and a slower start, and lets SIGHUP load new code.
preload_app = False
# Addresses of the proxies whose X-Forwarded-Proto gunicorn believes. Django believes it only
# with BEHIND_TLS_PROXY=true: then the application must be reachable through the proxy alone.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Gunicorn's runtime control socket: unused here, and one default path for every server on the
# machine.
control_socket_disable = True
# The heartbeat files of the workers in memory, not on a disk that can stall (containers).
if os.path.isdir("/dev/shm"):  # noqa: S108 (a tmpfs, not a shared temporary directory)
    worker_tmp_dir = "/dev/shm"  # noqa: S108

# --- Logs: errors to stderr, the access log to stdout --------------------------------------
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
errorlog = "-"
accesslog = "-"
# No personal data: no query string, no referrer (it carries the previous page's query), no
# client address, no body; paths hold case references and batch codes, never a name or a
# national ID (searches are POSTed). The request id ties a line to the audit events it wrote.
access_log_format = "%(t)s %(m)s %(U)s %(s)s %(B)s %(M)sms request_id=%({x-request-id}o)s"
# The load balancer's probes, every few seconds on every machine, are left out.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


class AccessLogWithoutProbes(Logger):
    def access(self, resp, req, environ, request_time):
        if environ.get("PATH_INFO") not in PROBE_PATHS:
            super().access(resp, req, environ, request_time)


logger_class = AccessLogWithoutProbes
