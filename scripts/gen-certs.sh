#!/usr/bin/env bash
# Makes a small PKI for tally's mutual TLS: a CA, a server certificate for
# the agents, and a client certificate for tallyctl, all signed by that CA.
# For tests and trials; production clusters use cert-manager (docs/deploy.md).
#
#   scripts/gen-certs.sh DIR [SERVER_NAME ...]
#
# Writes DIR/{ca,server,client}.{pem,key}. The server certificate covers
# localhost, 127.0.0.1 and every SERVER_NAME (DNS names or IP addresses).
set -euo pipefail
dir=${1:?usage: gen-certs.sh DIR [SERVER_NAME ...]}
shift
mkdir -p "$dir"
cd "$dir"

sans="DNS:localhost,IP:127.0.0.1"
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then
    sans+=",IP:$name"
  else
    sans+=",DNS:$name"
  fi
done

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca.key
openssl req -x509 -new -key ca.key -sha256 -days 365 -subj "/CN=tally test CA" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem

sign() {  # NAME CN EXTENSIONS
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -sha256 -days 365 -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

sign server tallyd "subjectAltName=$sans
extendedKeyUsage=serverAuth
keyUsage=critical,digitalSignature"
sign client tallyctl "extendedKeyUsage=clientAuth
keyUsage=critical,digitalSignature"
rm -f ca.srl
chmod 600 ./*.key
