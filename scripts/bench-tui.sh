#!/usr/bin/env bash
# Benchmark the TUI's cost at rest and under a log flood (issue 8 point 6), in a real tmux terminal.
# Not a timed test: prints the figures and the targets.
#
#   (a) idle: the release `dockui assets/demo` (a copy) in a detached 160x48 tmux session, isolated XDG dirs;
#       after it settled, CPU over IDLE_S seconds (default 30) from /proc/PID/stat (utime + stime ticks /
#       CLK_TCK), as % of one core. Target < 1 %. Also the bytes it wrote to the terminal meanwhile.
#   (b) a build that streams ~RATE lines/s (default 10,000) for ~SECS s (default 10): a busybox RUN prints
#       RATE/100 lines every 10 ms. dockui runs on it in tmux, the pane's output is copied with
#       `tmux pipe-pane -o 'cat >> FILE'`, `b` starts the build. While the lines stream (measured from the
#       attempt's log file, which gets every line), the bytes written to the terminal per second.
#       Target < 200 KB/s. Also dockui's CPU meanwhile, and the line rate actually achieved.
#
# Cleans up its tmux server, its containers and images (label dockui.bench=tui-PID) and its temp dir.
#
# Usage: scripts/bench-tui.sh            IDLE_S=30 RATE=10000 SECS=10 COLS=160 ROWS=48 (environment)
#        BENCH_TUI_KEEP=DIR              keep the raw terminal output and the samples in DIR
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
IDLE_S="${IDLE_S:-30}"
RATE="${RATE:-10000}"
SECS="${SECS:-10}"
COLS="${COLS:-160}"
ROWS="${ROWS:-48}"
. scripts/bench-lib.sh
BENCH_ID="tui-$$"
command -v tmux >/dev/null || { echo "needs tmux" >&2; exit 2; }
bench_require_engine
bench_busybox >/dev/null

echo "== building dockui (release)"
cargo build --release --quiet --bin dockui
DOCKUI="$CARGO_TARGET_DIR/release/dockui"
CLK_TCK=$(getconf CLK_TCK)

SOCK="dockui-bench-$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dockui-bench-tui.XXXXXX")"
BASE="dockui-bench/busybox:base-$$"
cleanup() {
  tmux -L "$SOCK" kill-server >/dev/null 2>&1 || true
  rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK"   # the server's socket file can outlive it
  # BENCH_TUI_KEEP=DIR keeps the raw terminal output and the samples, to look at.
  if [ -n "${BENCH_TUI_KEEP:-}" ]; then mkdir -p "$BENCH_TUI_KEEP"; cp "$WORK"/*.out "$WORK"/samples "$BENCH_TUI_KEEP"/ 2>/dev/null || true; fi
  bench_cleanup_engine
  rm -rf "$WORK"
}
trap cleanup EXIT

XDG=(-e "XDG_CONFIG_HOME=$WORK/xdg/config" -e "XDG_STATE_HOME=$WORK/xdg/state" -e "XDG_DATA_HOME=$WORK/xdg/data")
t() { tmux -L "$SOCK" "$@"; }
# start SESSION DIR: dockui on DIR as the pane's process (exec: the pane's pid is dockui's).
start() {
  t -f /dev/null new-session -d -s "$1" -x "$COLS" -y "$ROWS" "${XDG[@]}" "exec '$DOCKUI' '$2'"
  local pid
  pid=$(t display -p -t "$1" '#{pane_pid}')
  for _ in $(seq 1 50); do [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockui ] && break; sleep 0.1; done
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockui ] || { echo "dockui did not start in tmux" >&2; t capture-pane -p -t "$1" >&2 || true; exit 1; }
  echo "$pid"
}
wait_screen() { # SESSION TEXT SECONDS
  local end=$(( $(date +%s) + $3 ))
  until t capture-pane -p -t "$1" 2>/dev/null | grep -q -- "$2"; do
    [ "$(date +%s)" -lt "$end" ] || { echo "timed out waiting for '$2'; screen:" >&2; t capture-pane -p -t "$1" >&2; exit 1; }
    sleep 0.2
  done
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
quit() { # SESSION PID
  t send-keys -t "$1" q
  for _ in $(seq 1 50); do [ -d "/proc/$2" ] || return 0; sleep 0.1; done
  t send-keys -t "$1" y   # a build still running asks first
  for _ in $(seq 1 50); do [ -d "/proc/$2" ] || return 0; sleep 0.1; done
  echo "dockui did not quit" >&2
}

# ---------------- (a) idle ----------------
cp -r assets/demo "$WORK/demo"
echo "== (a) idle: dockui $WORK/demo in tmux ${COLS}x${ROWS}"
pid=$(start idle "$WORK/demo")
wait_screen idle "Build log" 20
wait_screen idle "DL3" 30          # the demo's analysis is on screen
sleep 3                            # let the GPU probe and the engine ping settle
: > "$WORK/idle.out"
t pipe-pane -o -t idle "cat >> '$WORK/idle.out'"
sleep 0.5
a0=$(ticks "$pid"); s0=$(now_ns)
sleep "$IDLE_S"
a1=$(ticks "$pid"); s1=$(now_ns)
t pipe-pane -t idle
idle_s=$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.2f", (b - a) / 1e9}')
idle_ticks=$((a1 - a0))
idle_cpu=$(awk -v n="$idle_ticks" -v hz="$CLK_TCK" -v s="$idle_s" 'BEGIN{printf "%.3f", n / hz / s * 100}')
idle_bytes=$(stat -c %s "$WORK/idle.out")
idle_rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
quit idle "$pid"
echo "   ${idle_ticks} ticks (CLK_TCK ${CLK_TCK}) in ${idle_s} s; ${idle_bytes} bytes to the terminal; RSS ${idle_rss} kB"

# ---------------- (b) a build streaming RATE lines/s ----------------
bench_base_image "$BASE" "$WORK"
P="$WORK/stream"
mkdir -p "$P"
# A generator of realistic build lines (pip, apt, nvcc), varied so that every frame's log rows really change.
# It paces itself on /proc/uptime: RATE lines/s for SECS s, written every ~10 ms.
cat > "$P/gen.awk" <<'EOF'
function now(   u, f) { getline u < "/proc/uptime"; close("/proc/uptime"); split(u, f, " "); return f[1] }
function line(c,   p, k) {
  p = P[1 + int(rand() * np)]; k = int(rand() * 6)
  if (k == 0) printf "Collecting %s==%d.%d.%d\n", p, rand() * 5, rand() * 40, rand() * 20
  else if (k == 1) printf "  Downloading %s-%d.%d.%d-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl (%.1f MB)\n", p, rand() * 5, rand() * 40, rand() * 20, rand() * 900
  else if (k == 2) printf "[%d/%d] /usr/local/cuda/bin/nvcc -O3 -std=c++17 -gencode arch=compute_%d,code=sm_%d -Icsrc/include -c csrc/%s/kernel_%d.cu -o build/%s/kernel_%d.o\n", c, total, 70 + int(rand() * 3) * 5, 80 + int(rand() * 3) * 5, p, rand() * 999, p, rand() * 999
  else if (k == 3) printf "Setting up lib%s%d:amd64 (%d.%d.%d-%dubuntu%d) ...\n", p, rand() * 9, rand() * 9, rand() * 30, rand() * 9, rand() * 5, rand() * 3
  else if (k == 4) printf "Get:%d http://archive.ubuntu.com/ubuntu jammy-updates/main amd64 %s amd64 %d.%d-%d [%d kB]\n", c % 400, p, rand() * 9, rand() * 30, rand() * 9, rand() * 9000
  else printf "Requirement already satisfied: %s>=%d.%d in /opt/conda/lib/python3.11/site-packages (from -r requirements.txt (line %d))\n", p, rand() * 5, rand() * 40, 1 + rand() * 40
}
BEGIN {
  srand(7)
  np = split("torch numpy transformers accelerate safetensors tokenizers triton fastapi uvicorn pydantic sentencepiece flash-attn xformers bitsandbytes", P, " ")
  total = RATE * SECS; c = 0; t0 = now()
  while (c < total) {
    want = (now() - t0 + 0.01) * RATE; if (want > total) want = total
    while (c < want) { line(c); c++ }
    fflush(); system("usleep 10000")
  }
}
EOF
cat > "$P/Dockerfile" <<EOF
FROM $BASE
WORKDIR /src
COPY gen.awk /src/gen.awk
# ~$RATE lines/s for ~$SECS s.
RUN awk -v RATE=$RATE -v SECS=$SECS -f /src/gen.awk
RUN echo done
EOF
cat > "$P/.dockui.toml" <<EOF
# The legacy builder passes every line through (BuildKit clips a step's log at 2 MiB).
[build]
image = "dockui-bench/tui"
tag = "stream-$$"
no_cache = true
builder = "legacy"
max_attempts = 1

[smoke]
infer = false
commands = []
EOF
echo "== (b) streaming build: ~$RATE lines/s for ~$SECS s (legacy builder), dockui in tmux ${COLS}x${ROWS}"
pid=$(start stream "$P")
wait_screen stream "Build log" 20
sleep 2
: > "$WORK/stream.out"
t pipe-pane -o -t stream "cat >> '$WORK/stream.out'"
sleep 0.5
t send-keys -t stream b
# Sample: seconds, lines in the attempt's log, bytes to the terminal, dockui's CPU ticks.
: > "$WORK/samples"
s0=$(now_ns)
log=""
end=$(( $(date +%s) + SECS * 6 + 60 ))
while :; do
  [ -n "$log" ] || log=$(find "$WORK/xdg/data" -name 'attempt-1.log' 2>/dev/null | head -1)
  lines=0; [ -n "$log" ] && lines=$(wc -l < "$log")
  printf '%s %s %s %s\n' "$(awk -v a="$s0" -v b="$(now_ns)" 'BEGIN{printf "%.3f", (b - a) / 1e9}')" \
    "$lines" "$(stat -c %s "$WORK/stream.out")" "$(ticks "$pid")" >> "$WORK/samples"
  # The attempt's closing line ("dockui: built ...", or why not) ends the sampling.
  if [ -n "$log" ] && grep -v '^dockui: building' "$log" | grep -q '^dockui: '; then break; fi
  [ "$(date +%s)" -lt "$end" ] || { echo "the build did not finish in time" >&2; break; }
  sleep 0.25
done
sleep 0.5
screen=$(t capture-pane -p -t stream)
t pipe-pane -t stream
total_bytes=$(stat -c %s "$WORK/stream.out")
stream_rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
quit stream "$pid"
grep -q '^dockui: built' "$log" || { echo "the streaming build did not succeed; log tail:" >&2; tail -5 "$log" >&2; exit 1; }
got=$(grep -c -E '^(Collecting|  Downloading|\[[0-9]+/[0-9]+\] |Setting up|Get:|Requirement already)' "$log" || true)

# The streaming window: from the first sample where our lines were arriving to the last one where they still were.
read -r w_s w_lines w_bytes w_ticks w_e e_lines e_bytes e_ticks < <(awk '
  NR > 1 && $2 - pl >= 100 { if (!start) { s = pt; sl = pl; sb = pb; st = pk; start = 1 } e = $1; el = $2; eb = $3; et = $4 }
  { pt = $1; pl = $2; pb = $3; pk = $4 }
  END { print s, sl, sb, st, e, el, eb, et }' "$WORK/samples")
dur=$(awk -v a="$w_s" -v b="$w_e" 'BEGIN{printf "%.2f", b - a}')
line_rate=$(awk -v l="$((e_lines - w_lines))" -v d="$dur" 'BEGIN{printf "%.0f", l / d}')
byte_rate=$(awk -v b="$((e_bytes - w_bytes))" -v d="$dur" 'BEGIN{printf "%.1f", b / d / 1000}')
stream_cpu=$(awk -v n="$((e_ticks - w_ticks))" -v hz="$CLK_TCK" -v d="$dur" 'BEGIN{printf "%.1f", n / hz / d * 100}')
# ratatui hides the cursor at every frame it draws (\e[?25l): that counts the frames.
frames=$(grep -o $'\e\[?25l' "$WORK/stream.out" | wc -l)
run_s=$(tail -1 "$WORK/samples" | cut -d' ' -f1)
last_lines=$(echo "$screen" | grep -c -E 'Collecting|Downloading|nvcc|Setting up|Get:|Requirement already' || true)
echo "   $got lines of build output in the log; the pane showed $last_lines of them at the end"
echo "   streaming window ${dur} s: $((e_lines - w_lines)) lines, $((e_bytes - w_bytes)) bytes to the terminal"
echo "   whole run: $total_bytes bytes to the terminal in ${run_s} s (from pressing b): $frames frames drawn, $(awk -v f="$frames" -v s="$run_s" 'BEGIN{printf "%.1f", f / s}')/s, $(awk -v f="$frames" -v b="$total_bytes" 'BEGIN{ if (f) printf "%.0f", b / f; else print "-" }') bytes/frame"

echo
echo "idle CPU:            ${idle_cpu} % of one core over ${idle_s} s (target < 1 %: $(awk -v c="$idle_cpu" 'BEGIN{print (c < 1) ? "met" : "MISSED"}'))"
echo "idle terminal bytes: ${idle_bytes} bytes in ${idle_s} s"
echo "streamed:            ${line_rate} lines/s achieved (asked ~${RATE}) for ${dur} s"
echo "terminal output:     ${byte_rate} KB/s while streaming (target < 200 KB/s: $(awk -v r="$byte_rate" 'BEGIN{print (r < 200) ? "met" : "MISSED"}'))"
echo "dockui CPU:          ${stream_cpu} % of one core while streaming; RSS ${stream_rss} kB after the build (idle: ${idle_rss} kB)"
