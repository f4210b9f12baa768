#!/bin/sh
# The compose `link` container: shape both directions with tc tbf (NET_ADMIN), run the passes
# as link down/up of the satellite-side interface (as deploy/netns-link does with its veth),
# then run the fault proxy (latency, stalls, resets, corruption) as the unprivileged user.
#   downlink (towards the ground network): LINK_RATE     uplink (towards the satellite): LINK_UPLINK_RATE
#   passes: LINK_PASS_PERIOD_S + LINK_PASS_DURATION_S (periodic, the first starting now), or
#           LINK_WINDOWS="5:15,19:29,33:" (up windows in seconds from now; the last END may be
#           empty); neither: always up.
# Every event is one line on stdout: "eodl-link: UNIX_TIME EVENT key=value ...".
set -eu
: "${LINK_TARGET:?set LINK_TARGET to the ground's host:port}"
LINK_RATE="${LINK_RATE:-2mbit}"
LINK_UPLINK_RATE="${LINK_UPLINK_RATE:-256kbit}"
PERIOD="${LINK_PASS_PERIOD_S:-}"
DURATION="${LINK_PASS_DURATION_S:-}"
WINDOWS="${LINK_WINDOWS:-}"

log() { echo "eodl-link: $(date +%s.%N) $*"; }
die() { echo "eodl-link: $*" >&2; exit 2; }

if [ -n "$PERIOD$DURATION" ] && [ -n "$WINDOWS" ]; then
  die "set LINK_PASS_PERIOD_S/LINK_PASS_DURATION_S or LINK_WINDOWS, not both"
fi
if [ -n "$PERIOD$DURATION" ]; then
  [ -n "$PERIOD" ] && [ -n "$DURATION" ] || die "set LINK_PASS_PERIOD_S and LINK_PASS_DURATION_S together"
  awk -v p="$PERIOD" -v d="$DURATION" 'BEGIN { exit !(d > 0 && d < p) }' \
    || die "LINK_PASS_DURATION_S must be > 0 and below LINK_PASS_PERIOD_S"
fi
if [ -n "$WINDOWS" ]; then
  echo "$WINDOWS" | grep -Eq '^([0-9.]+:[0-9.]+,)*[0-9.]+:[0-9.]*$' \
    || die "LINK_WINDOWS must be START:END,... in seconds (the last END may be empty), got '$WINDOWS'"
fi

ground_host="${LINK_TARGET%:*}"
ground_ip="$(getent hosts "$ground_host" | awk '{ print $1; exit }')"
[ -n "$ground_ip" ] || { echo "eodl-link: cannot resolve $ground_host" >&2; exit 1; }
ground_dev="$(ip -o route get "$ground_ip" | sed -n 's/.* dev \([^ ]*\).*/\1/p')"
sat_dev=""
for dev in $(ls /sys/class/net); do
  [ "$dev" = lo ] && continue
  if [ "$dev" = "$ground_dev" ]; then
    rate="$LINK_RATE" role=downlink
  else
    rate="$LINK_UPLINK_RATE" role=uplink sat_dev="$dev"
  fi
  tc qdisc replace dev "$dev" root tbf rate "$rate" burst 16kb latency 100ms
  log "shaped dev=$dev role=$role rate=$rate"
done
[ -n "$sat_dev" ] || die "no satellite-side interface (is the container on the space network?)"

set_link() { ip link set dev "$sat_dev" "$1" && log "link-$1 dev=$sat_dev"; }
sleep_until() {  # $1: t0 (unix time), $2: seconds after t0
  sleep "$(awk -v t0="$1" -v at="$2" -v now="$(date +%s.%N)" 'BEGIN { d = t0 + at - now; print (d > 0 ? d : 0) }')"
}

schedule() {
  t0="$(date +%s.%N)"
  if [ -n "$PERIOD" ]; then
    k=0
    while true; do
      sleep_until "$t0" "$(awk -v k="$k" -v p="$PERIOD" -v d="$DURATION" 'BEGIN { print k * p + d }')"
      set_link down
      k=$((k + 1))
      sleep_until "$t0" "$(awk -v k="$k" -v p="$PERIOD" 'BEGIN { print k * p }')"
      set_link up
    done
  fi
  set_link down
  for window in $(echo "$WINDOWS" | tr ',' ' '); do
    sleep_until "$t0" "${window%%:*}"
    set_link up
    end="${window#*:}"
    [ -n "$end" ] || return 0
    sleep_until "$t0" "$end"
    set_link down
  done
}

if [ -n "$PERIOD$WINDOWS" ]; then
  schedule &  # as root (ip link needs NET_ADMIN); it ends with the container
fi
exec setpriv --reuid=eodl --regid=eodl --init-groups \
  python -m workbench.link_proxy --listen "0.0.0.0:${LINK_PORT:-8001}" --target "$LINK_TARGET" \
  --latency-s "${LINK_LATENCY_S:-0}" --stall-rate "${LINK_STALL_RATE:-0}" \
  --stall-s "${LINK_STALL_S:-0}" --reset-rate "${LINK_RESET_RATE:-0}" \
  --corrupt-rate "${LINK_CORRUPT_RATE:-0}"
