#!/bin/sh
# make run: start gatewayd in the foreground with a demo configuration:
# one virtual modem, the database under ./demo, the API on 127.0.0.1:8080.
# The API token is random, made on the first run and kept in demo/token.
set -eu
BIN=${1:-build/release}
DEMO=${SMSGW_DEMO_DIR:-demo}
PORT=${SMSGW_DEMO_PORT:-8080}

mkdir -p "$DEMO"
DEMO=$(cd "$DEMO" && pwd)

if [ ! -s "$DEMO/token" ]; then
	(umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' \
		>"$DEMO/token")
fi
TOKEN=$(cat "$DEMO/token")

cat >"$DEMO/smsgw.conf" <<CONF
# Demo configuration written by 'make run'.  See README.md for every key.
http = {
  listen = "127.0.0.1:$PORT";
  token = "$TOKEN";
};
database = "$DEMO/smsgw.db";
modems = (
  { name = "demo"; device = "virtual"; }
);
CONF

cat <<INFO

smsgw demo: one virtual modem, database $DEMO/smsgw.db
API token: $TOKEN

Send a message:
  curl -s -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/json' \\
    -d '{"to": "+15551234567", "text": "Your appointment is tomorrow at 9:00"}' \\
    http://127.0.0.1:$PORT/api/v1/messages

List messages:
  curl -s -H 'Authorization: Bearer $TOKEN' http://127.0.0.1:$PORT/api/v1/messages

What the virtual modem sent, and a reply from a job seeker:
  $BIN/modemsim ctl $DEMO/demo.sim sent
  $BIN/modemsim ctl $DEMO/demo.sim deliver +15551234567 'Yes, I will be there'

Ctrl-C stops the gateway.

INFO

exec "$BIN/gatewayd" -c "$DEMO/smsgw.conf"
