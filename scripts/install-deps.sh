#!/usr/bin/env bash
# Installs the Debian packages pixd needs, idempotently.
#   scripts/install-deps.sh [build|test|bench|all]   (default: all)
# build: compilers and libraries; test: + curl, nginx, Pillow, locust (CSV reference),
# chromium (the page test drives it headless); bench: + the Python peers, wrk, ab, gnuplot and
# the servers of bench/contenders (lighttpd, Caddy, Apache, Varnish, Node.js, h2o, Go).
set -euo pipefail
what=${1:-all}

build=(build-essential cmake pkg-config clang libclang-rt-14-dev libfuzzer-14-dev
       libjpeg62-turbo-dev libspng-dev libgif-dev libwebp-dev libcurl4-openssl-dev
       libssl-dev libjsmn-dev libcmocka-dev zlib1g-dev libnghttp2-dev
       libavif-dev libfreetype-dev fonts-dejavu-core)
test=(curl nginx-light python3 python3-pil python3-locust python3-multipart openssl chromium
      libgravatar-url-perl strace nghttp2-client python3-h2 python3-hyperframe)
bench=(wrk apache2-utils gnuplot-nox python3-flask gunicorn python3-fastapi
       python3-uvicorn python3-uvloop python3-httptools python3-starlette python3-aiohttp
       python3-multipart python3-pil iproute2 procps libnginx-mod-http-image-filter
       lighttpd caddy apache2 varnish nodejs h2o golang-go)

case "$what" in
  build) pkgs=("${build[@]}") ;;
  test)  pkgs=("${build[@]}" "${test[@]}") ;;
  bench|all) pkgs=("${build[@]}" "${test[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts these servers when it installs them (most on port 80); our tests and benchmarks
# start their own instances. The services of each package installed now: stopped and disabled.
declare -A services=([nginx-light]=nginx [lighttpd]=lighttpd [caddy]=caddy [apache2]=apache2
                     [varnish]="varnish varnishncsa" [h2o]=h2o)
for p in "${missing[@]}"; do
  for s in ${services[$p]:-}; do
    $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || $SUDO service "$s" stop >/dev/null 2>&1 || true
  done
done
