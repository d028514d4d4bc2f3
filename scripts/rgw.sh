#!/usr/bin/env bash
# Throwaway single-node Ceph RGW (16.x, Debian packages) on loopback, memstore.
# Recipe: shared/docs/ceph-rgw.md.  No systemd; every daemon runs with -c DIR/ceph.conf.
#
#   scripts/rgw.sh start DIR [--require-ssl true|false] [--trust-forwarded true|false]
#   scripts/rgw.sh stop  DIR [--clean]
#
# Defaults: require ssl = true, trust forwarded https = true (the ingress-as-deployed mode:
# the gateway terminates TLS and talks plain http to RGW with "X-Forwarded-Proto: https").
#
# start writes DIR/rgw.json and DIR/rgw.env (http/https endpoints, keys, region, CA file).
# Keys are random unless RGW_ACCESS_KEY / RGW_SECRET_KEY are set.  RGW_START_TIMEOUT
# (seconds, default 60) bounds the whole start.  start on a DIR whose cluster is running
# stops that cluster first and starts a fresh one (memstore keeps nothing anyway).
# stop kills only the pids recorded in DIR/pids whose /proc/PID/cmdline still names
# DIR/ceph.conf; it leaves DIR for inspection unless --clean is given.
set -euo pipefail

EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

die() { echo "rgw.sh: $*" >&2; exit 1; }

usage() {
  cat >&2 <<'EOF'
usage: rgw.sh start DIR [--require-ssl true|false] [--trust-forwarded true|false]
       rgw.sh stop  DIR [--clean]
EOF
  exit 2
}

bool() {
  case "$1" in
    true|1|yes|on) echo true ;;
    false|0|no|off) echo false ;;
    *) die "expected true|false, got '$1'" ;;
  esac
}

# ---- process bookkeeping ---------------------------------------------------------------

# pid_ours PID: the process exists, is not a zombie, and its cmdline names our ceph.conf
pid_ours() {
  local pid=$1 state cmd
  [[ -r /proc/$pid/stat ]] || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [[ $state != Z && $state != X ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmd == *"$CONF"* ]]
}

# term_wait SECS PID...: SIGTERM those of the pids that are ours, wait up to SECS for them
# to exit, then SIGKILL what is left
term_wait() {
  local secs=$1 p; shift
  local -a live=() still=()
  for p in "$@"; do
    if pid_ours "$p"; then kill -TERM "$p" 2>/dev/null || true; live+=("$p"); fi
  done
  local deadline=$((SECONDS + secs))
  while ((${#live[@]})); do
    still=()
    for p in "${live[@]}"; do pid_ours "$p" && still+=("$p"); done
    live=("${still[@]+"${still[@]}"}")
    ((${#live[@]})) || break
    if ((SECONDS >= deadline)); then
      echo "rgw.sh: pid(s) ${live[*]} ignored SIGTERM for $secs s, sending SIGKILL" >&2
      for p in "${live[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
      sleep 0.1
      break
    fi
    sleep 0.05
  done
}

stop_cluster() {
  local pidfile=$DIR/pids name pid
  [[ -f $pidfile ]] || return 0
  local -a rgw=() osd=() mon=()
  while read -r name pid; do
    [[ $pid =~ ^[0-9]+$ ]] || continue
    case "$name" in rgw) rgw+=("$pid") ;; osd) osd+=("$pid") ;; *) mon+=("$pid") ;; esac
  done <"$pidfile"
  # one after the other, while the mon can still answer: radosgw's shutdown hangs until its
  # 120 s alarm without mon/osd, the osd waits 5 s to tell a gone mon it is going down
  ((${#rgw[@]} == 0)) || term_wait 5 "${rgw[@]}"
  ((${#osd[@]} == 0)) || term_wait 10 "${osd[@]}"
  ((${#mon[@]} == 0)) || term_wait 10 "${mon[@]}"
  rm -f "$pidfile"
}

# ---- helpers for start ----------------------------------------------------------------

# Free loopback ports, outside the OSD's 6800-7300 range and below the ephemeral range
# (32768+), so an outgoing connection cannot be holding them.  Checked by binding.
free_ports() {
  node -e '
    const net = require("node:net");
    const want = Number(process.argv[1]); const got = new Set(); const servers = [];
    const tryOne = () => {
      if (got.size >= want) { servers.forEach((s) => s.close()); console.log([...got].join(" ")); return; }
      const p = 20000 + Math.floor(Math.random() * 12000);
      if (got.has(p)) return tryOne();
      const s = net.createServer();
      s.once("error", tryOne);
      s.listen({ port: p, host: "127.0.0.1", exclusive: true }, () => { got.add(p); servers.push(s); tryOne(); });
    };
    tryOne();
  ' "$1"
}

remaining() { local r=$((DEADLINE - SECONDS)); ((r > 0)) || r=1; echo "$r"; }

fail() {
  # fail LOGNAME MESSAGE...: print the message and the tail of DIR/log/LOGNAME.log, stop what we started
  local log=$1; shift
  {
    echo "rgw.sh: FAILED after $((SECONDS - T0)) s: $*"
    for f in "$DIR/log/$log.log" "$DIR/log/$log.out"; do
      if [[ -s $f ]]; then echo "---- tail -n 40 $f"; tail -n 40 "$f"; fi
    done
    echo "---- (work dir left for inspection: $DIR)"
  } >&2
  stop_cluster || true
  exit 1
}

# launch NAME LOGNAME CMD...: run a daemon in the foreground (-f) in its own session,
# detached from our stdio, and record "NAME PID"
launch() {
  local name=$1 log=$2; shift 2
  setsid "$@" </dev/null >"$DIR/log/$log.out" 2>&1 9>&- &
  local pid=$!
  echo "$name $pid" >>"$DIR/pids"
  eval "PID_$name=$pid"
}

alive_or_fail() {
  local name=$1 log=$2 pid
  eval "pid=\$PID_$name"
  pid_ours "$pid" || fail "$log" "$name (pid $pid) exited"
}

cephcli() { timeout "$(remaining)" ceph -c "$CONF" --connect-timeout 30 "$@"; }

s3_status() {
  # s3_status URL REGION [extra curl args]: HTTP status of a SigV4-signed GET (ListBuckets)
  local url=$1 region=$2; shift 2
  curl -sS -o /dev/null -w '%{http_code}' --max-time 5 \
    --aws-sigv4 "aws:amz:$region:s3" --user "$AK:$SK" \
    -H "x-amz-content-sha256: $EMPTY_SHA256" "$@" "$url" 2>/dev/null || true
}

# ---- commands -----------------------------------------------------------------------

cmd_start() {
  local require_ssl=true trust_forwarded=true
  while (($#)); do
    case "$1" in
      --require-ssl) require_ssl=$(bool "${2:-}"); shift 2 ;;
      --require-ssl=*) require_ssl=$(bool "${1#*=}"); shift ;;
      --trust-forwarded) trust_forwarded=$(bool "${2:-}"); shift 2 ;;
      --trust-forwarded=*) trust_forwarded=$(bool "${1#*=}"); shift ;;
      *) usage ;;
    esac
  done
  for bin in ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool openssl curl node setsid flock; do
    command -v "$bin" >/dev/null || die "$bin not found (as root: bash scripts/debian-deps.sh install rgw)"
  done

  T0=$SECONDS
  DEADLINE=$((SECONDS + ${RGW_START_TIMEOUT:-60}))

  # a cluster already running here is stopped first; then a clean slate
  stop_cluster
  rm -rf "$DIR/mon" "$DIR/osd" "$DIR/run" "$DIR/log" "$DIR/rgw" "$DIR/crash" "$DIR/tmp" \
    "$DIR/monmap" "$DIR/rgw.json" "$DIR/rgw.env" "$DIR/rgw-ca.pem" "$DIR/rgw-key.pem" "$DIR/ceph.conf"
  mkdir -p "$DIR/mon/ceph-a" "$DIR/osd/ceph-0" "$DIR/run" "$DIR/log" "$DIR/rgw" "$DIR/crash" "$DIR/tmp"
  : >"$DIR/pids"

  local ports mon_port http_port https_port
  ports=$(free_ports 3) || die "could not find free ports"
  read -r mon_port http_port https_port <<<"$ports"

  AK=${RGW_ACCESS_KEY:-AK$(openssl rand -hex 9 | tr a-f A-F)}
  SK=${RGW_SECRET_KEY:-$(openssl rand -hex 20)}

  # self-signed cert for RGW's ssl_endpoint; the cert doubles as the CA file for clients
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -addext "keyUsage=critical,digitalSignature,keyCertSign" \
    -addext "extendedKeyUsage=serverAuth" \
    -keyout "$DIR/rgw-key.pem" -out "$DIR/rgw-ca.pem" >"$DIR/log/openssl.out" 2>&1 \
    || { cat "$DIR/log/openssl.out" >&2; die "openssl could not make the certificate"; }
  chmod 600 "$DIR/rgw-key.pem"

  local fsid osd_uuid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)

  cat >"$CONF" <<EOF
# generated by scripts/rgw.sh — throwaway test cluster, loopback only
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$mon_port
mon initial members = a
ms bind msgr1 = false
ms bind ipv6 = false
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind port min = 6800
ms bind port max = 7300
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
client mount timeout = 30
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon max pg per osd = 1000
paxos propose interval = 0.05
paxos min wait = 0.01
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
log file = $DIR/log/\$name.log
mon cluster log file = $DIR/log/cluster.log
crash dir = $DIR/crash
tmp dir = $DIR/tmp
keyring = $DIR/keyring
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
rgw data = $DIR/rgw/\$cluster-\$id

[mon]
admin socket = $DIR/run/\$cluster-\$name.asok

[osd]
admin socket = $DIR/run/\$cluster-\$name.asok
osd objectstore = memstore
memstore device bytes = 8589934592

[client]
rgw frontends = beast endpoint=127.0.0.1:$http_port ssl_endpoint=127.0.0.1:$https_port ssl_certificate=$DIR/rgw-ca.pem ssl_private_key=$DIR/rgw-key.pem tcp_nodelay=1
rgw crypt require ssl = $require_ssl
rgw trust forwarded https = $trust_forwarded
rgw gc obj min wait = 30
rgw gc processor period = 30

[client.rgw.a]
admin socket = $DIR/run/\$cluster-\$name.asok
EOF

  # 1-2: monitor
  monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon_port]" "$DIR/monmap" \
    >"$DIR/log/monmaptool.out" 2>&1 || fail monmaptool "monmaptool failed"
  timeout "$(remaining)" ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" \
    >"$DIR/log/mon-mkfs.out" 2>&1 || fail mon-mkfs "ceph-mon --mkfs failed"
  launch mon mon.a ceph-mon -f -c "$CONF" -i a

  # 3: osd (the mon answering "osd new" is also our mon-is-up check)
  local osd_id
  osd_id=$(cephcli osd new "$osd_uuid" 2>"$DIR/log/osd-new.out") \
    || { alive_or_fail mon mon.a; fail mon.a "'ceph osd new' failed: $(tail -n 3 "$DIR/log/osd-new.out")"; }
  [[ $osd_id == 0 ]] || fail mon.a "'ceph osd new' returned id '$osd_id', expected 0"
  timeout "$(remaining)" ceph-osd -c "$CONF" --mkfs -i 0 --osd-uuid "$osd_uuid" \
    >"$DIR/log/osd-mkfs.out" 2>&1 || fail osd-mkfs "ceph-osd --mkfs failed"
  launch osd osd.0 ceph-osd -f -c "$CONF" -i 0

  local out
  while :; do
    alive_or_fail osd osd.0
    out=$(cephcli osd stat -f json 2>/dev/null || true)
    [[ $out == *'"num_up_osds":1'* ]] && break
    ((SECONDS < DEADLINE)) || fail osd.0 "osd.0 not up within ${RGW_START_TIMEOUT:-60} s: $out"
    sleep 0.1
  done

  # 4: radosgw, only once the osd is up: started earlier, its first pool ops wait for the
  # objecter's 5 s tick
  launch rgw client.rgw.a radosgw -f -c "$CONF" -n client.rgw.a

  while :; do
    alive_or_fail rgw client.rgw.a
    out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$http_port/" || true)
    [[ $out =~ ^[1-5][0-9][0-9]$ ]] && break
    ((SECONDS < DEADLINE)) || fail client.rgw.a "radosgw not answering on http://127.0.0.1:$http_port/ within ${RGW_START_TIMEOUT:-60} s"
    sleep 0.05
  done

  # 5: user
  timeout "$(remaining)" radosgw-admin -c "$CONF" user create --uid=test --display-name=test \
    --access-key="$AK" --secret-key="$SK" >"$DIR/log/user-create.out" 2>&1 \
    || fail user-create "radosgw-admin user create failed"

  # 6: one signed request, over http and over https (trusting our own cert).
  # RGW 16 does not check the region in the SigV4 credential scope against its zonegroup
  # (any string verifies), so the region AWS SDKs default to is recorded.
  local region="" r status
  for r in us-east-1 default; do
    status=$(s3_status "http://127.0.0.1:$http_port/" "$r")
    if [[ $status == 200 ]]; then region=$r; break; fi
  done
  [[ -n $region ]] || fail client.rgw.a "signed ListBuckets over http failed (last status $status)"
  status=$(s3_status "https://127.0.0.1:$https_port/" "$region" --cacert "$DIR/rgw-ca.pem")
  [[ $status == 200 ]] || fail client.rgw.a "signed ListBuckets over https failed (status $status)"

  cat >"$DIR/rgw.json.tmp" <<EOF
{
  "http": "http://127.0.0.1:$http_port",
  "https": "https://127.0.0.1:$https_port",
  "accessKey": "$AK",
  "secretKey": "$SK",
  "region": "$region",
  "caFile": "$DIR/rgw-ca.pem",
  "requireSsl": $require_ssl,
  "trustForwarded": $trust_forwarded,
  "dir": "$DIR",
  "monPort": $mon_port,
  "pids": { "mon": $PID_mon, "osd": $PID_osd, "rgw": $PID_rgw }
}
EOF
  mv "$DIR/rgw.json.tmp" "$DIR/rgw.json"
  cat >"$DIR/rgw.env" <<EOF
RGW_HTTP='http://127.0.0.1:$http_port'
RGW_HTTPS='https://127.0.0.1:$https_port'
RGW_ACCESS_KEY='$AK'
RGW_SECRET_KEY='$SK'
RGW_REGION='$region'
RGW_CA_FILE='$DIR/rgw-ca.pem'
RGW_REQUIRE_SSL='$require_ssl'
RGW_TRUST_FORWARDED='$trust_forwarded'
RGW_DIR='$DIR'
RGW_CONF='$CONF'
EOF
  echo "rgw.sh: RGW up in $((SECONDS - T0)) s: http://127.0.0.1:$http_port https://127.0.0.1:$https_port (require ssl $require_ssl, trust forwarded $trust_forwarded) dir $DIR" >&2
}

cmd_stop() {
  local clean=false
  while (($#)); do
    case "$1" in
      --clean) clean=true; shift ;;
      *) usage ;;
    esac
  done
  stop_cluster
  if $clean; then
    exec 9>&-
    rm -rf "$DIR"
  fi
}

# ---- main ---------------------------------------------------------------------------

(($# >= 2)) || usage
action=$1
[[ $2 != -* ]] || usage
if [[ $action == stop && ! -d $2 ]]; then exit 0; fi
mkdir -p "$2"
DIR=$(cd "$2" && pwd -P)
shift 2
[[ $DIR =~ ^[A-Za-z0-9._/+@:-]+$ ]] || die "DIR must be a path without spaces or quotes: '$DIR'"
[[ $DIR != / ]] || die "refusing DIR=/"
CONF=$DIR/ceph.conf

# one start/stop at a time per DIR (fd 9 is closed in the daemons)
exec 9>"$DIR/.lock"
flock -w 120 9 || die "could not lock $DIR/.lock within 120 s"

case "$action" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  *) usage ;;
esac
