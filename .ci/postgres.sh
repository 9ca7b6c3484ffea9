# Sourced by .ci/run: start a throwaway PostgreSQL on 127.0.0.1 and export MEDVIZ_TEST_POSTGRES_URL.
# Does nothing (and exports nothing) if no PostgreSQL binaries are installed.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -n "${pg_bin}" ] && [ -x "${pg_bin}/initdb" ]; then
  pg_dir=$(mktemp -d /tmp/medviz-pg.XXXXXX)
  chown postgres:postgres "${pg_dir}"
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  su postgres -c "${pg_bin}/initdb -D ${pg_dir}/data -A trust -U postgres >/dev/null"
  su postgres -c "${pg_bin}/pg_ctl -D ${pg_dir}/data -o '-p ${port} -k ${pg_dir} -c listen_addresses=127.0.0.1' -l ${pg_dir}/log -w start >/dev/null"
  su postgres -c "${pg_bin}/createdb -h 127.0.0.1 -p ${port} -U postgres medviz_test"
  export MEDVIZ_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:${port}/medviz_test"
  trap 'su postgres -c "${pg_bin}/pg_ctl -D ${pg_dir}/data -m fast stop >/dev/null" || true; rm -rf "${pg_dir}"' EXIT
fi
