#!/usr/bin/env bash
# Installs the Debian packages pixd needs, idempotently.
#   scripts/install-deps.sh [build|test|bench|all] [PACKAGE...]   (default: all)
# build: compilers and libraries; test: + curl, nginx, Pillow, locust (CSV reference),
# chromium (the page test drives it headless); bench: + the suite's tools (wrk, ab, h2load,
# gnuplot). PACKAGEs are installed too: bench/run names the packages its contenders declare
# (bench/contenders/*/contender.toml), so this script knows no contender.
set -euo pipefail
what=${1:-all}
[ $# -gt 0 ] && shift

build=(build-essential cmake pkg-config clang libclang-rt-14-dev libfuzzer-14-dev
       libjpeg62-turbo-dev libspng-dev libgif-dev libwebp-dev libcurl4-openssl-dev
       libssl-dev libjsmn-dev libcmocka-dev zlib1g-dev libnghttp2-dev
       libavif-dev libfreetype-dev fonts-dejavu-core)
test=(curl nginx-light python3 python3-pil python3-locust python3-multipart openssl chromium
      libgravatar-url-perl strace nghttp2-client python3-h2 python3-hyperframe)
bench=(wrk apache2-utils gnuplot-nox python3-pil iproute2 procps libnginx-mod-http-image-filter)

case "$what" in
  build) pkgs=("${build[@]}") ;;
  test)  pkgs=("${build[@]}" "${test[@]}") ;;
  bench|all) pkgs=("${build[@]}" "${test[@]}" "${bench[@]}") ;;
  *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}" "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
before=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' | awk '$1 == "installed" { print $2 }' | sort)
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the servers it installs (nginx, lighttpd, Apache, Varnish... most on port 80);
# our tests and benchmarks start their own instances. Every service shipped by a package this run
# installed from the source of a package asked for (nginx's unit is in nginx-common, from nginx
# as nginx-light is; a library's daemon pulled in by chromium is left alone): stopped, disabled.
source_of() { dpkg-query -W -f='${source:Package}\n' "$@" 2>/dev/null; }
asked=$(source_of "${missing[@]}" | sort -u)
after=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' | awk '$1 == "installed" { print $2 }' | sort)
for p in $(comm -13 <(echo "$before") <(echo "$after")); do
  grep -qxF "$(source_of "$p")" <<<"$asked" || continue
  for unit in $(dpkg-query -L "$p" | grep -E '^(/usr)?/lib/systemd/system/[^/@]+\.service$'); do
    s=$(basename "$unit" .service)
    $SUDO systemctl disable --now "$s" >/dev/null 2>&1 || $SUDO service "$s" stop >/dev/null 2>&1 || true
  done
done
