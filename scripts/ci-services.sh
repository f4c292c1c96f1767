#!/usr/bin/env bash
# Starts Postgres and Redis on loopback when they are not running (idempotent).
set -euo pipefail

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  cluster=$(ls /etc/postgresql 2>/dev/null | head -n1)
  if [ -n "$cluster" ]; then
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
# Tests connect as postgres over TCP without a password (trust on loopback, as on these machines).
psql -h 127.0.0.1 -U postgres -tAc 'select 1' >/dev/null

if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi
redis-cli -h 127.0.0.1 ping
