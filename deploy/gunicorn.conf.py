"""gunicorn settings of the dialfunnel-web service, on top of dialfunnel's own: the address,
the workers (gevent) and the timeouts come from /etc/dialfunnel/dialfunnel.toml (web_host,
web_port, web_workers, web_worker_connections, web_graceful_timeout; see the README).

deploy/provision.sh installs this file as /etc/dialfunnel/gunicorn.conf.py and the unit runs
`dialfunnel web --gunicorn-config /etc/dialfunnel/gunicorn.conf.py`. Names and values are
gunicorn's (https://docs.gunicorn.org/en/stable/settings.html)."""

# nginx on this machine sets X-Forwarded-Proto: trust it from loopback only.
forwarded_allow_ips = "127.0.0.1,::1"

# nginx keeps its upstream connections open (keepalive in its upstream block): keep ours open
# longer than nginx's keepalive_timeout (60 s), so that nginx closes them first.
keepalive = 75
