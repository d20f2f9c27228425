#!/usr/bin/env bash
# Starts a Berth server on its embedded defaults, deploys examples/shop and
# shows it answering through the gateway. The server keeps running in the
# background; the script prints how to use and stop it.
set -euo pipefail
cd "$(dirname "$0")/.."

BERTH=${BERTH:-$PWD/bin/berth}
DATA=${BERTH_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/berth}
API=${BERTH_LISTEN:-127.0.0.1:7700}
GW=${BERTH_GATEWAY_LISTEN:-127.0.0.1:8080}

if curl -fsS "http://$API/healthz" >/dev/null 2>&1; then
  echo "berth: a server already answers on $API; using it"
else
  mkdir -p "$DATA"
  echo "berth: starting the server (data in $DATA, API on $API, gateway on $GW)"
  nohup "$BERTH" server --data-dir "$DATA" --listen "$API" --gateway-listen "$GW" >"$DATA/server.log" 2>&1 &
  echo $! >"$DATA/server.pid"
  for _ in $(seq 1 100); do
    curl -fsS "http://$API/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  curl -fsS "http://$API/healthz" >/dev/null || { echo "berth: server did not start; see $DATA/server.log" >&2; exit 1; }
fi

"$BERTH" login "http://$API" --token "$(cat "$DATA/admin-token")"
"$BERTH" apply -f examples/shop --timeout 5m
echo
echo "+ curl -H 'Host: shop.localhost' http://$GW/"
for _ in $(seq 1 50); do
  if out=$(curl -fsS -H 'Host: shop.localhost' "http://$GW/" 2>/dev/null); then break; fi
  sleep 0.2
done
echo "${out:?the gateway did not answer for shop.localhost}"
curl -fsS -H 'Host: shop.localhost' "http://$GW/"
echo
"$BERTH" status shop
cat <<MSG

Berth is running (server pid $(cat "$DATA/server.pid" 2>/dev/null || echo "?"), log $DATA/server.log).
  $BERTH apps | status shop | releases shop | logs shop/web -f
  $BERTH delete shop                 # stop the app
  kill \$(cat $DATA/server.pid)        # stop the server (apps keep running until deleted)
MSG
