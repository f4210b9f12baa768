#!/bin/sh
# The compose `link` container: shape both directions with tc tbf (NET_ADMIN), then run the
# fault proxy (latency, stalls, resets, corruption) as the unprivileged user.
#   downlink (towards the ground network): LINK_RATE     uplink (towards the satellite): LINK_UPLINK_RATE
set -eu
: "${LINK_TARGET:?set LINK_TARGET to the ground's host:port}"
LINK_RATE="${LINK_RATE:-2mbit}"
LINK_UPLINK_RATE="${LINK_UPLINK_RATE:-256kbit}"
ground_host="${LINK_TARGET%:*}"
ground_ip="$(getent hosts "$ground_host" | awk '{ print $1; exit }')"
[ -n "$ground_ip" ] || { echo "eodl-link: cannot resolve $ground_host" >&2; exit 1; }
ground_dev="$(ip -o route get "$ground_ip" | sed -n 's/.* dev \([^ ]*\).*/\1/p')"
for dev in $(ls /sys/class/net); do
  [ "$dev" = lo ] && continue
  if [ "$dev" = "$ground_dev" ]; then rate="$LINK_RATE"; else rate="$LINK_UPLINK_RATE"; fi
  tc qdisc replace dev "$dev" root tbf rate "$rate" burst 16kb latency 100ms
  echo "eodl-link: $dev shaped to $rate"
done
exec setpriv --reuid=eodl --regid=eodl --init-groups \
  python -m workbench.link_proxy --listen "0.0.0.0:${LINK_PORT:-8001}" --target "$LINK_TARGET" \
  --latency-s "${LINK_LATENCY_S:-0}" --stall-rate "${LINK_STALL_RATE:-0}" \
  --stall-s "${LINK_STALL_S:-0}" --reset-rate "${LINK_RESET_RATE:-0}" \
  --corrupt-rate "${LINK_CORRUPT_RATE:-0}"
