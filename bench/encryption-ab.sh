#!/usr/bin/env bash
# The cost of `encryption.mode gateway`, paired: one gateway (auth mode none, gateway encryption),
# a private RGW on loopback, and per round a plain PUT, an SSE-C PUT, a plain GET and an SSE-C GET
# of the same 512 MiB file with curl. Prints the gateway process's CPU ticks (1/100 s) of each and
# the medians; the difference per GiB is 2 × (encrypted − plain) / 100 s.
#
#   npm run build && bash bench/encryption-ab.sh [--http1.1|--http2] [ROUNDS]
#
# Rounds alternate plain and encrypted so that machine noise (±30 % on shared cores) hits both.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTO=${1:---http1.1}; ROUNDS=${2:-8}
WORK=$(mktemp -d /tmp/ssecgw-ab.XXXXXX)
trap 'kill $GP 2>/dev/null || true; bash scripts/rgw.sh stop "$WORK/rgw" --clean >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
bash scripts/rgw.sh start "$WORK/rgw" --require-ssl false >/dev/null
read -r UP AK SK < <(node -e 'const j=require(process.argv[1]);console.log(j.http, j.accessKey, j.secretKey)' "$WORK/rgw/rgw.json")
head -c 536870912 /dev/urandom > "$WORK/half.bin"
node bin/ssec-gateway.js serve --workers 1 --upstream "$UP" --https-port 18443 --admin-port 0 --state-dir "$WORK/state" \
  --log-level warn --auth-mode none --encryption-mode gateway --upstream-access-key-id "$AK" --upstream-secret-access-key "$SK" > "$WORK/gw.log" 2>&1 &
GP=$!
for _ in $(seq 1 50); do curl -sk -o /dev/null https://127.0.0.1:18443/ && break; sleep 0.2; done
curl -sk -X PUT https://127.0.0.1:18443/abtest -o /dev/null
K=$(head -c 32 /dev/urandom | base64); M=$(echo -n "$K" | base64 -d | openssl md5 -binary | base64)
H=(-H "x-amz-server-side-encryption-customer-algorithm: AES256" -H "x-amz-server-side-encryption-customer-key: $K" -H "x-amz-server-side-encryption-customer-key-md5: $M")
ticks() { awk '{print $14+$15}' "/proc/$GP/stat"; }
t() {
  local a b code; a=$(ticks)
  code=$(curl -sk "$PROTO" "$@" -o /dev/null -w "%{http_code}"); b=$(ticks)
  [ "$code" = 200 ] || echo "HTTP $code for $*" >&2
  echo $((b - a))
}
pp=(); ep=(); pg=(); eg=()
for _ in $(seq 1 "$ROUNDS"); do
  pp+=("$(t -T "$WORK/half.bin" https://127.0.0.1:18443/abtest/p)")
  ep+=("$(t "${H[@]}" -T "$WORK/half.bin" https://127.0.0.1:18443/abtest/e)")
  pg+=("$(t https://127.0.0.1:18443/abtest/p)")
  eg+=("$(t "${H[@]}" https://127.0.0.1:18443/abtest/e)")
  curl -sk -X DELETE https://127.0.0.1:18443/abtest/p -o /dev/null; curl -sk -X DELETE https://127.0.0.1:18443/abtest/e -o /dev/null
  radosgw-admin -c "$WORK/rgw/ceph.conf" gc process --include-all >/dev/null 2>&1 # memstore: free the deleted objects
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "$PROTO, gateway CPU ticks per 512 MiB (median of $ROUNDS):"
echo "  PUT plain $(med "${pp[@]}")  encrypted $(med "${ep[@]}")   GET plain $(med "${pg[@]}")  encrypted $(med "${eg[@]}")"
echo "  raw: PUT plain ${pp[*]} | PUT enc ${ep[*]} | GET plain ${pg[*]} | GET enc ${eg[*]}"
