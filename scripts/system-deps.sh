#!/usr/bin/env bash
# Installs the Debian packages the project needs when they are missing.
#   runtime: libopenjp2-7 (glymur's OpenJPEG library)
#   test:    opj_decompress and grk_decompress (independent J2K decoders for interop tests)
#   browser: Debian's chromium (and a font) for the dashboard's headless-browser test
set -euo pipefail
what=${1:-runtime}

have_lib() { ldconfig -p 2>/dev/null | grep -q 'libopenjp2\.so'; }

case "$what" in
  runtime) need=(); have_lib || need+=(libopenjp2-7) ;;
  test)    need=()
           command -v opj_decompress >/dev/null || need+=(libopenjp2-tools)
           command -v grk_decompress >/dev/null || need+=(grokj2k-tools) ;;
  browser) need=()
           [ -x /usr/bin/chromium ] || need+=(chromium)
           [ -n "$(fc-list 2>/dev/null | head -n 1)" ] || need+=(fonts-dejavu-core) ;;
  *) echo "usage: $0 runtime|test|browser" >&2; exit 2 ;;
esac

[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  if [ "$what" = runtime ]; then
    echo "error: missing Debian packages: ${need[*]}; run 'sudo apt-get install ${need[*]}' and retry" >&2
    exit 1
  fi
  echo "warning: missing ${need[*]} (not root); the tests that need them will skip" >&2
  exit 0
fi
echo "installing Debian packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
