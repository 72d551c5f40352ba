#!/bin/bash
# usage: ./run.sh NAME <load flags...>
# Builds pbbench, starts a fresh PocketBase (new data dir), runs the load
# against it, stops the server. Output goes to logs/NAME-*.log.
set -eu
cd "$(dirname "$0")"
NAME=$1; shift
mkdir -p logs
go build -o pbbench .
ulimit -n 20000
DATA=$(mktemp -d)
./pbbench serve --http 127.0.0.1:8090 --dir "$DATA" > "logs/$NAME-serve.log" 2>&1 &
SPID=$!
for _ in $(seq 1 50); do curl -fs http://127.0.0.1:8090/api/health >/dev/null && break; sleep 0.2; done
echo "# ./pbbench load -pid $SPID $*" | tee "logs/$NAME-load.log"
./pbbench load -pid "$SPID" "$@" 2>&1 | tee -a "logs/$NAME-load.log"
kill "$SPID"; wait "$SPID" 2>/dev/null || true
rm -rf "$DATA"
