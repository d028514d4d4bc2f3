#!/usr/bin/env bash
# Quick start: a throwaway local Ceph RGW (the same script the tests use) with the gateway in
# front of it, and the user guide's aws-cli commands ready to paste. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${SSEC_DEMO_DIR:-$PWD/.state/demo}
PORT=${SSEC_DEMO_PORT:-8443}
# the Debian packages RGW needs (scripts/debian-deps.sh: installs them as root, else prints the command)
bash scripts/debian-deps.sh install rgw >&2
bash scripts/rgw.sh start "$DIR/rgw" >&2
trap 'bash scripts/rgw.sh stop "$DIR/rgw" >&2' EXIT
# shellcheck disable=SC1091
source "$DIR/rgw/rgw.env"
mkdir -p "$DIR/gateway"
CA="$DIR/gateway/tls/cert.pem"
EP="https://127.0.0.1:$PORT"
cat <<MSG

Ceph RGW $RGW_HTTP (rgw crypt require ssl = true, rgw trust forwarded https = true)
ssec-gateway $EP in front of it. In another shell, paste:

  export AWS_ACCESS_KEY_ID=$RGW_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$RGW_SECRET_KEY AWS_DEFAULT_REGION=$RGW_REGION
  export AWS_CA_BUNDLE=$CA AWS_REQUEST_CHECKSUM_CALCULATION=when_required
  aws s3 mb s3://bucket-name --endpoint-url $EP
  secret="32bytesOfTotallyRandomCharacters"
  key=\$(echo -n \$secret | base64)
  keymd5=\$(echo -n \$secret | openssl dgst -md5 -binary | base64)
  echo "hello SSE-C" > contents.txt
  aws s3api put-object --bucket bucket-name --key object-name --body contents.txt \\
    --sse-customer-algorithm AES256 --sse-customer-key \$key --sse-customer-key-md5 \$keymd5 --endpoint-url $EP
  aws s3api get-object out.txt --bucket bucket-name --key object-name \\
    --sse-customer-key \$secret --sse-customer-algorithm AES256 --endpoint $EP
  aws s3 cp contents.txt s3://bucket-name/ --sse-c-key \$secret --sse-c AES256 --endpoint $EP
  openssl rand 32 > sse-c.key
  aws s3 cp contents.txt s3://bucket-name/blob.txt --sse-c-key fileb://sse-c.key --sse-c AES256 --endpoint $EP
  aws s3api get-object out.txt --bucket bucket-name --key object-name --endpoint $EP   # no key: refused

MSG
node --enable-source-maps bin/ssec-gateway.js serve --upstream "$RGW_HTTP" --https-port "$PORT" --admin-port 0 --state-dir "$DIR/gateway" "$@"
