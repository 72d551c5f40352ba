#!/bin/bash
# usage: ./run.sh NAME <load flags...>
#        ./run.sh NAME writes <writes flags...>
# Builds pbbench, starts a fresh PocketBase (new data dir), runs the load
# (or the writes) against it, stops the server. Output goes to
# logs/NAME-*.log; writes also leave logs/NAME-writes.json.
set -eu
cd "$(dirname "$0")"
NAME=$1; shift
MODE=load
if [ "${1:-}" = writes ]; then MODE=writes; shift; fi
mkdir -p logs
go build -o pbbench .
ulimit -n 20000
DATA=$(mktemp -d)
./pbbench serve --http 127.0.0.1:8090 --dir "$DATA" > "logs/$NAME-serve.log" 2>&1 &
SPID=$!
for _ in $(seq 1 50); do curl -fs http://127.0.0.1:8090/api/health >/dev/null && break; sleep 0.2; done
if [ "$MODE" = writes ]; then
  echo "# ./pbbench writes -pid $SPID -json logs/$NAME-writes.json $*" | tee "logs/$NAME-writes.log"
  ./pbbench writes -pid "$SPID" -json "logs/$NAME-writes.json" "$@" 2>&1 | tee -a "logs/$NAME-writes.log"
else
  echo "# ./pbbench load -pid $SPID $*" | tee "logs/$NAME-load.log"
  ./pbbench load -pid "$SPID" "$@" 2>&1 | tee -a "logs/$NAME-load.log"
fi
kill "$SPID"; wait "$SPID" 2>/dev/null || true
rm -rf "$DATA"
