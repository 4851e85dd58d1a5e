#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12 packages. Idempotent; needs root (or sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config
  libboost1.81-dev libboost-json1.81-dev   # Asio/Beast (later), Boost.JSON for payloads and --json output
  libsqlite3-dev sqlite3                   # the embedded store (sqlite3 CLI is used by tests that tamper)
  libfmt-dev                               # formatting
  catch2                                   # Catch2 v2.13 test framework
  libyaml-cpp-dev                          # workflow and config files are YAML, with line/column marks
  libssl-dev                               # SHA-256 for the tamper-evident event chain (libcrypto), TLS
  ca-certificates                          # the system's trust anchors for SMTP STARTTLS and https webhooks
  libjemalloc-dev                          # the hoso binary's allocator (fewer CPU cycles per command served)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
