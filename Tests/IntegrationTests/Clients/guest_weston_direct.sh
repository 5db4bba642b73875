#!/bin/sh
# Runs in the QEMU guest (GPUBufferVMTests), after the clients shown through
# Porthole and before the next: the dma-buf pattern client against a weston of
# the guest's own, without Porthole, and that weston's screenshot, so the test
# can compare it with what the host shows through Porthole. It returns once
# the test has seen the screenshot (or a deadline passed).
#
# usage: guest_weston_direct.sh CLIENT DRM-NODE OUT-DIR [CLIENT-OPTION...]
# Writes to OUT-DIR: direct-steps (when each step came), direct-ps (the
# processes' states every 5 s until the pattern shows), direct-weston.log,
# direct-client.log, screenshots
# (direct-N.png, one a second once the client has shown its windows, until
# the test makes OUT-DIR/direct-seen, at most 60) and, last, direct-done
# holding the client's exit status (or a word saying what failed).
# The output is 1280x720 like the host's weston in the test (the windows
# have so far landed at the same places in both).
#
# weston 10's pixman renderer has no linux-dmabuf, so this weston renders
# with GL: headless, on Mesa's kms_swrast over the same vgem device (EGL's
# surfaceless/device platform picks kms_swrast on vgem when software
# rendering is asked for), which imports the client's dumb-buffer dma-bufs.
client=$1 node=$2 out=$3
shift 3
runtime=$(mktemp -d /tmp/direct-weston.XXXXXX)
cat >"$runtime/weston.ini" <<'INI'
[core]
idle-time=0
[shell]
background-color=0xff204060
panel-position=none
locking=false
animation=none
close-animation=none
startup-animation=none
focus-animation=none
INI
# LP_NUM_THREADS=0: llvmpipe rasterizes on weston's own thread. With its
# default helper thread, weston's GL start-up on the one-vCPU guest took 74 s
# under a loaded host once and did not finish in 6 minutes another time;
# without it, 29-33 s under the same load (11 s on a calm host either way).
done_with() { touch "$runtime/shown"; echo "$1" >"$out/direct-done"; kill "$weston" 2>/dev/null; exit 0; }
LP_NUM_THREADS=0 LIBGL_ALWAYS_SOFTWARE=1 XDG_RUNTIME_DIR=$runtime WAYLAND_DISPLAY= weston --config="$runtime/weston.ini" \
  --backend=headless-backend.so --socket=direct --width=1280 --height=720 --use-gl --debug \
  >"$out/direct-weston.log" 2>&1 &
weston=$!
# Deadlines by the clock, not by counting sleeps: in a guest slowed by a
# busy host each round of a polling loop takes far longer than its sleep.
# They are generous: under TCG on a loaded host weston's GL renderer
# (llvmpipe) has taken more than a minute to start.
# Each step is timed into direct-steps, for a test that has to say why it
# saw nothing.
started=$(date +%s)
step() { echo "$(( $(date +%s) - started )) s: $1" >>"$out/direct-steps"; }
step "weston starting"
# Until the pattern shows, what every process waits on, every 5 s: under a
# loaded host weston's GL start-up and this script have both stalled for
# minutes, and this says where.
( while [ ! -e "$runtime/shown" ]; do
    { echo "--- $(( $(date +%s) - started )) s"; ps -eo pid,stat,wchan:24,time,comm; } >>"$out/direct-ps" 2>&1
    sleep 5
  done ) &
deadline=$(( $(date +%s) + 240 ))
while [ ! -S "$runtime/direct" ] && [ "$(date +%s)" -lt "$deadline" ]; do
  kill -0 "$weston" 2>/dev/null || done_with "weston-exited"
  sleep 0.1
done
[ -S "$runtime/direct" ] || done_with "no-weston-socket"
step "weston listening; client starting"
XDG_RUNTIME_DIR=$runtime WAYLAND_DISPLAY=direct "$client" "$@" "$node" 120 "$runtime/stop" >"$out/direct-client.log" 2>&1 &
pid=$!
deadline=$(( $(date +%s) + 120 ))
while ! grep -q '^DMABUF-PATTERN shown' "$out/direct-client.log" && [ "$(date +%s)" -lt "$deadline" ]; do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
grep -q '^DMABUF-PATTERN shown' "$out/direct-client.log" || { wait "$pid"; done_with "client-failed-$?"; }
step "pattern shown"
touch "$runtime/shown"
shots=$runtime/shots
mkdir -p "$shots"
for n in $(seq 60); do
  [ -e "$out/direct-seen" ] && break
  (cd "$shots" && XDG_RUNTIME_DIR=$runtime WAYLAND_DISPLAY=direct weston-screenshooter) >>"$out/direct-client.log" 2>&1 \
    || done_with "no-screenshot"
  # Renamed into place whole: the test never reads half a file.
  for f in "$shots"/wayland-screenshot-*.png; do cp "$f" "$out/.direct-$n.png" && mv "$out/.direct-$n.png" "$out/direct-$n.png"; rm -f "$f"; done
  sleep 1
done
touch "$runtime/stop"
wait "$pid"
done_with "$?"
