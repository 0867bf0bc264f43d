#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL and Redis on 127.0.0.1, stopped afterwards.
# Exports TEST_POSTGRES_URL (the suite's second database) and REDIS_URL (Celery tests).
set -euo pipefail

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
D=$(mktemp -d /tmp/ronde-services.XXXXXX)
PG_PORT=$(free_port)
REDIS_PORT=$(free_port)
chmod 755 "$D"
mkdir -p "$D/pg" "$D/redis"
RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres:postgres "$D/pg"
  RUNAS=(runuser -u postgres --)
fi

cleanup() {
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$D/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$D"
}
trap cleanup EXIT INT TERM

redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save '' --appendonly no \
  --dir "$D/redis" --pidfile "$D/redis/redis.pid" --logfile "$D/redis/redis.log"
"${RUNAS[@]}" "$PGBIN/initdb" -D "$D/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$D/pg/data" -l "$D/pg/server.log" -w \
  -o "-p $PG_PORT -k $D/pg -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null
"$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ronde

for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

export TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$PG_PORT/ronde"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export RONDE_SERVICES=1
"$@"
