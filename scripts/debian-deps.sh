#!/usr/bin/env bash
# The Debian 12 packages this project needs, in ONE place: used by .ci/run, scripts/demo.sh
# (`npm run demo`) and the test suite's before-script (test/setup/global-before.ts, `npm test`).
#
#   scripts/debian-deps.sh check   [GROUP...]  exit 0 when all are installed; else list the missing, exit 1
#   scripts/debian-deps.sh install [GROUP...]  install the missing ones: as root with apt-get (one
#                                              `apt-get update`, then one `apt-get install`); not as root,
#                                              print the one command to run and exit 1
#   scripts/debian-deps.sh print   [GROUP...]  the package names, on one line
#
# GROUP: rgw (Ceph RGW 16 and what scripts/rgw.sh uses: the demo), redis (scripts/redis.sh),
# clients (the S3 clients the tests drive), all (default: everything, what `npm test` needs),
# bench (nginx, wrk, h2load, curl: `npm run bench`; not part of all).
# No daemon may start from a package's postinst (redis-server would take port 6379): a
# policy-rc.d that refuses is in place while apt-get runs (env SSEC_POLICY_RC_D moves it, for tests).
set -euo pipefail

RGW=(ceph-mon ceph-osd radosgw ceph-common openssl curl ca-certificates)  # scripts/rgw.sh: RGW 16, its TLS cert, its self-check
REDIS=(redis-server)                                                     # scripts/redis.sh
CLIENTS=(nghttp2-client s3cmd rclone awscli)                             # clients the tests run (awscli = aws-cli v2, /usr/bin/aws)
BENCH=(nginx wrk nghttp2-client curl)                                    # npm run bench: the nginx baseline and the load generators (not in `all`)
# the order .ci/run always installed them in
ALL=(ceph-mon ceph-osd radosgw ceph-common redis-server openssl curl ca-certificates nghttp2-client s3cmd rclone awscli)

POLICY_RC_D=${SSEC_POLICY_RC_D:-/usr/sbin/policy-rc.d}

usage() {
  echo "usage: debian-deps.sh check|install|print [rgw|redis|clients|bench|all]..." >&2
  exit 2
}

# packages GROUP...: the packages of the groups, each once, in ALL's order
packages() {
  local -A want=()
  local g p
  (($#)) || set -- all
  for g in "$@"; do
    case $g in
      rgw) for p in "${RGW[@]}"; do want[$p]=1; done ;;
      redis) for p in "${REDIS[@]}"; do want[$p]=1; done ;;
      clients) for p in "${CLIENTS[@]}"; do want[$p]=1; done ;;
      all) for p in "${ALL[@]}"; do want[$p]=1; done ;;
      bench) for p in "${BENCH[@]}"; do want[$p]=1; done ;;
    esac
  done
  for p in "${ALL[@]}" nginx wrk; do [[ -n ${want[$p]:-} ]] && echo "$p"; done
  return 0
}

# missing PKG...: those not installed, one per line (one dpkg-query call for all of them)
missing() {
  local -A ok=()
  local name status p
  # unknown packages make dpkg-query exit 1 and say so on stderr: they are simply missing
  while read -r name status; do
    [[ $status == installed ]] && ok[${name%%:*}]=1
  done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
  for p in "$@"; do [[ -n ${ok[$p]:-} ]] || echo "$p"; done
  return 0
}

# how to call this script again, as the user would type it
self() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  if [[ $PWD == "$here" ]]; then echo "scripts/debian-deps.sh"; else echo "$here/scripts/debian-deps.sh"; fi
}

verb=${1:-}
(($#)) && shift
case $verb in check|install|print) ;; *) usage ;; esac
for g in "$@"; do case $g in rgw|redis|clients|bench|all) ;; *) usage ;; esac; done
mapfile -t PKGS < <(packages "$@")
groups=${*:-all}

if [[ $verb == print ]]; then
  echo "${PKGS[*]}"
  exit 0
fi

if ! command -v dpkg-query >/dev/null; then
  echo "debian-deps.sh: no dpkg-query: not a Debian system; make sure these (Debian names) are installed: ${PKGS[*]}" >&2
  exit 0
fi

mapfile -t MISSING < <(missing "${PKGS[@]}")

if ((${#MISSING[@]} == 0)); then
  [[ $verb == install ]] && echo "all ${#PKGS[@]} Debian packages already installed: skipping apt-get update/install"
  exit 0
fi

if [[ $verb == check ]]; then
  echo "missing Debian packages: ${MISSING[*]}"
  exit 1
fi

# install
if [[ $(id -u) != 0 ]]; then
  cat >&2 <<MSG
debian-deps.sh: missing Debian packages: ${MISSING[*]}
Install them as root, then run this again:

  sudo bash $(self) install $groups

MSG
  exit 1
fi

echo "installing: ${MISSING[*]}"
export DEBIAN_FRONTEND=noninteractive
made_policy=false
if [[ ! -e $POLICY_RC_D ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$POLICY_RC_D"
  chmod +x "$POLICY_RC_D"
  made_policy=true
  trap 'rm -f "$POLICY_RC_D"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${MISSING[@]}"
if $made_policy; then rm -f "$POLICY_RC_D"; trap - EXIT; fi
