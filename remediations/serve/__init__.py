"""``fix502 serve``: alerts in (Prometheus Alertmanager's webhook), guarded fixes out.

The pieces, one module each: :mod:`.store` (SQLite: queue, audit log, cooldowns, approvals, the
breaker), :mod:`.policy` (alert → host, dedupe, cooldown, blast-radius breaker, modes), :mod:`.worker`
(runs the engine exactly as the CLI does), :mod:`.notify` (JSON and Slack webhooks), :mod:`.app`
(the aiohttp application) and :mod:`.tasks` (the invoke tasks ``serve``, ``approve``, ``breaker-reset``).
"""
