#!/usr/bin/env bash
# Issue 13 point 9: dockui's "build to a pushed, verified digest" on each backend against the hand-run flow it
# replaces, and a rebuild on a fresh engine with the cache imported against one without. Not a timed test:
# prints the figures and the ratios, measured in the same run, alternating sides. A missed goal prints MISSED.
#
#   flow (per backend), goal dockui / hand <= 0.5:
#     dockui: `dockui build DIR` (builds, runs the [smoke] command) then `dockui push DIR` (pushes, reads the
#             manifest digest from the registry and checks it is pullable by digest: a HEAD of the manifest by
#             digest, no layers downloaded). Exit 0 of push = pushed and pullable.
#     hand:   `build` (Docker: DOCKER_BUILDKIT=0 docker build; the CLI here has no buildx), `run --rm` of the
#             smoke command, `push` (digest read from its output), `rmi` + `pull REPO@DIGEST` (the check a
#             person does by hand: the digest pulls).
#     Both without the layer cache (every run builds from scratch: the case where a person waits), a new tag
#     each run, same project, same local registry (docker-registry on 127.0.0.1:PORT, started here).
#   everyday iteration (Docker engine, a row of its own, same goal printed separately): the loop users run
#     most. The layer cache ON on both sides (dockui `no_cache = false`, `docker build` without --no-cache),
#     one source file (src/mod_7.py) edited with new content before every build of either side, so each
#     build runs again from `COPY src/` on while the dependency install stays cached; the rest as above.
#   cache, goal with / without <= 0.25: a second dockerd of our own (own data root, socket and bridge; pruned
#     freely because nobody else uses it) made fresh before every build (all images removed, build cache
#     pruned); dockui builds with BuildKit, once with `--cache-from type=registry,ref=REPO:cache` (an image
#     pushed with `--cache-to type=inline`), once without. The base image comes from the registry both times.
#
# Backends: the local Docker engine; Podman through `podman system service` on a temp socket with isolated
# config and storage (compared with the podman CLI on the same storage); the BuildKit-daemon row is printed as
# skipped when this dockui has no way to reach one here (see the message).
#
# Usage: scripts/bench-backends.sh [RUNS]      (default 3 alternating runs per side, after one warm-up)
#   DOCKUI=path         use this dockui binary instead of building the release one
#   DOCKUI_CACHE=path   dockui binary for the cache row (default: DOCKUI; needs --cache-from/--cache-to)
#   NO_PODMAN=1 NO_CACHE_ROW=1 NO_DOCKER=1 NO_LEGACY=1 NO_WARM=1   skip a row (NO_LEGACY: dockui with
#                       builder=legacy; NO_WARM: the everyday-iteration row)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
. scripts/bench-lib.sh
BENCH_ID="backends-$$"
bench_require_engine
bench_busybox >/dev/null
command -v docker-registry >/dev/null || { echo "needs docker-registry (apt-get install docker-registry)" >&2; exit 2; }

if [ -z "${DOCKUI:-}" ]; then
  echo "== building dockui (release)"
  cargo build --release --quiet --bin dockui
  DOCKUI="$CARGO_TARGET_DIR/release/dockui"
fi
DOCKUI_CACHE="${DOCKUI_CACHE:-$DOCKUI}"

ID="$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/dockui-bench-backends.XXXXXX")"
REG_PID="" PODMAN_PID="" D2_PID="" D2_BRIDGE=""
cleanup() {
  set +e
  bench_cleanup_engine
  # Hand-flow images pulled by digest carry the label too; tags of our registry are ours alone.
  docker images --format '{{.Repository}}:{{.Tag}}' | grep "^127.0.0.1:${PORT:-x}/" | xargs -r docker rmi -f >/dev/null 2>&1
  if [ -n "$PODMAN_PID" ]; then
    pm rmi -af >/dev/null 2>&1
    kill "$PODMAN_PID" 2>/dev/null; wait "$PODMAN_PID" 2>/dev/null
  fi
  if [ -n "$D2_PID" ]; then
    kill "$D2_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$D2_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$D2_PID" 2>/dev/null
  fi
  [ -n "$D2_BRIDGE" ] && ip link del "$D2_BRIDGE" 2>/dev/null
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null
  # Podman and the second dockerd leave mounts under WORK: unmount ours, deepest first.
  awk -v w="$WORK" '$2 ~ "^"w {print $2}' /proc/self/mounts | awk '{print length, $0}' | sort -rn | cut -d' ' -f2- |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# ---- the registry ----
PORT=$(free_port)
REG="127.0.0.1:$PORT"
mkdir -p "$WORK/registry"
cat > "$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry
  delete:
    enabled: true
http:
  addr: $REG
EOF
docker-registry serve "$WORK/registry.yml" > "$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 1 100); do curl -fs "http://$REG/v2/" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "http://$REG/v2/" >/dev/null || { echo "docker-registry did not start:" >&2; cat "$WORK/registry.log" >&2; exit 1; }

BASE="dockui-bench/busybox:base-$ID"
bench_base_image "$BASE" "$WORK"

# ---- the project: a small service image, a few RUN/COPY steps, a smoke test ----
# mkproject DIR FROM: writes the project with FROM as its base.
mkproject() {
  local p="$1" from="$2"
  mkdir -p "$p/src" "$p/config"
  head -c 3000000 /dev/urandom > "$p/model.bin"
  for i in $(seq 1 40); do printf 'def f%d(x):\n    return x * %d\n' "$i" "$i" > "$p/src/mod_$i.py"; done
  printf 'workers = 2\nport = 8080\n' > "$p/config/app.toml"
  printf '.git\n*.tmp\n' > "$p/.dockerignore"
  cat > "$p/Dockerfile" <<EOF
FROM $from
WORKDIR /app
# stands in for the dependency install (network-bound in real life: the sleep is the download)
RUN mkdir -p /opt/deps && for i in 1 2 3; do head -c 1000000 /dev/urandom > /opt/deps/lib\$i.so; done && sleep 1
COPY model.bin /app/model.bin
COPY src/ /app/src/
COPY config/ /app/config/
RUN for i in \$(seq 1 200); do echo "compiling unit \$i of 200"; done && sha256sum /app/model.bin /opt/deps/* > /app/SUMS && sleep 0.5
RUN mkdir -p /usr/local/bin && printf '#!/bin/sh\\necho "app 1.0 workers=\$(grep workers /app/config/app.toml | cut -d= -f2)"\\n' > /usr/local/bin/app && chmod +x /usr/local/bin/app
ENV APP_MODE=production
CMD ["app"]
EOF
}
SMOKE='app | grep -q "app 1.0" && sha256sum -c /app/SUMS >/dev/null && echo smoke-ok'
P="$WORK/project"
mkproject "$P" "$BASE"

export XDG_CONFIG_HOME="$WORK/xdg/config" XDG_STATE_HOME="$WORK/xdg/state" XDG_DATA_HOME="$WORK/xdg/data"
# mkconfig FILE TAG [extra toml]
mkconfig() {
  cat > "$1" <<EOF
[build]
image = "$REG/bench/app"
tag = "$2"
no_cache = ${NO_CACHE:-true}
max_attempts = 1
auto_fix = "off"
builder = "${BUILDER:-auto}"

[build.labels]
"dockui.bench" = "$BENCH_ID"

[smoke]
infer = false
commands = ['$SMOKE']
${3:-}
EOF
}

TIMEFORMAT='%R'
# t CMD...: run CMD, output to WORK/out.*, print its wall time in ms; fail loudly.
t() {
  local s
  { time "$@" > "$WORK/out.stdout" 2> "$WORK/out.stderr"; } 2> "$WORK/time" || {
    # The whole output is kept (the temp dir goes on exit); what the registry holds tells a failed check apart.
    cp "$WORK/out.stdout" "${TMPDIR:-/tmp}/dockui-bench-backends-failed.out" 2>/dev/null
    echo "failed: $* (stdout kept in ${TMPDIR:-/tmp}/dockui-bench-backends-failed.out)" >&2
    tail -n 30 "$WORK/out.stdout" "$WORK/out.stderr" >&2
    [ -n "${REG:-}" ] && echo "registry catalog: $(curl -s "http://$REG/v2/_catalog")" >&2
    exit 1; }
  s=$(cat "$WORK/time"); awk -v s="$s" 'BEGIN{printf "%.1f", s * 1000}'
}
sum() { awk '{s += $1} END {printf "%.1f", s}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a / b}'; }
verdict() { awk -v r="$1" -v g="$2" 'BEGIN{print (r <= g) ? "met" : "MISSED"}'; }

# ---- one run of each side. CLI = docker | pm (podman with our config); prints "TOTAL build smoke push verify"
# edit_source TAG: the everyday change (WARM=1 only): one source file edited, so the build runs again from
# `COPY src/` on (the dependency install above it stays cached). New content every run and side.
edit_source() {
  [ -n "${WARM:-}" ] || return 0
  printf 'def f7(x):\n    return x * 7  # edited for %s\n' "$1" > "$P/src/mod_7.py"
}
run_dockui() { # cfg -> phases
  local cfg="$1" b p
  edit_source "$cfg-$(date +%s%N)"
  b=$(t "$DOCKUI" build "$P" --format json --config "$cfg")
  grep -q '"success": true' "$WORK/out.stdout" || { echo "dockui build did not succeed:" >&2; cat "$WORK/out.stdout" >&2; exit 1; }
  p=$(t "$DOCKUI" push "$P" --format json --config "$cfg")
  grep -q '"verdict": "pullable"' "$WORK/out.stdout" || { echo "dockui push: not pullable:" >&2; cat "$WORK/out.stdout" >&2
    echo "registry catalog: $(curl -s "http://$REG/v2/_catalog")" >&2; exit 1; }
  cp "$WORK/out.stdout" "$WORK/last-push.json"
  echo "$(echo "$b $p" | tr ' ' '\n' | sum) $b $p"
}
run_hand() { # cli tag -> "TOTAL build smoke push rmi+pull"
  local cli="$1" img="$REG/bench/app:$2" b s p v dg nc=--no-cache
  [ -n "${WARM:-}" ] && nc=
  edit_source "$img-$(date +%s%N)"
  if [ "$cli" = docker ]; then
    b=$(t env DOCKER_BUILDKIT=0 docker build $nc --label "dockui.bench=$BENCH_ID" -t "$img" "$P")
  else
    b=$(t pm build $nc --label "dockui.bench=$BENCH_ID" -t "$img" "$P")
  fi
  s=$(t "$cli" run --rm "$img" sh -c "$SMOKE")
  grep -q smoke-ok "$WORK/out.stdout" || { echo "hand smoke failed" >&2; exit 1; }
  if [ "$cli" = docker ]; then
    p=$(t docker push "$img")
    dg=$(grep -o 'digest: sha256:[0-9a-f]*' "$WORK/out.stdout" | cut -d' ' -f2)
  else
    p=$(t pm push --digestfile "$WORK/pm.digest" "$img")
    dg=$(cat "$WORK/pm.digest")
  fi
  [ -n "$dg" ] || { echo "no digest from $cli push" >&2; exit 1; }
  # KEEP=1 (the everyday row's warm-up): the image also keeps a tag of its own, as a user's previous `app:dev`
  # does, so the verification's `rmi` does not take the legacy builder's cache with it (its cache is the chain
  # of intermediate images, deleted with the last image that holds them). Without it the everyday row measured
  # the hand flow with or without a cache depending on whether an earlier row's images still held the chain.
  [ -n "${KEEP:-}" ] && "$cli" tag "$img" "$REG/bench/app:hand-dev" >/dev/null
  v=$( { time { "$cli" rmi "$img" >/dev/null && "$cli" pull "$REG/bench/app@$dg" >/dev/null; } ; } 2>&1 >/dev/null | tail -1 | awk '{printf "%.1f", $1 * 1000}')
  "$cli" rmi "$REG/bench/app@$dg" >/dev/null 2>&1 || true
  echo "$(echo "$b $s $p $v" | tr ' ' '\n' | sum) $b $s $p $v"
}

# bench_flow NAME CLI CFG_EXTRA: alternating runs; prints the summary lines into WORK/summary
bench_flow() {
  local name="$1" cli="$2" extra="${3:-}" i o d=() h=() dp=() hp=() dm hm r
  echo "== $name: warm-up (not counted)"
  mkconfig "$WORK/$cli-w.toml" "dockui-$cli-${BUILDER:-auto}${WARM:+-warm}-w" "$extra"; run_dockui "$WORK/$cli-w.toml" >/dev/null
  KEEP="${WARM:-}" run_hand "$cli" "hand-$cli-${BUILDER:-auto}${WARM:+-warm}-w" >/dev/null
  if [ -n "${WARM:-}" ]; then
    echo "== $name: $RUNS alternating runs per side (layer cache on, one source file edited before each build, new tag each run)"
  else
    echo "== $name: $RUNS alternating runs per side (no layer cache, new tag each run)"
  fi
  for i in $(seq 1 "$RUNS"); do
    mkconfig "$WORK/$cli-$i.toml" "dockui-$cli-${BUILDER:-auto}${WARM:+-warm}-$i" "$extra"
    if [ $((i % 2)) -eq 1 ]; then
      o=$(run_dockui "$WORK/$cli-$i.toml"); d+=("${o%% *}"); dp+=("$o")
      o=$(run_hand "$cli" "hand-$cli-${BUILDER:-auto}${WARM:+-warm}-$i"); h+=("${o%% *}"); hp+=("$o")
    else
      o=$(run_hand "$cli" "hand-$cli-${BUILDER:-auto}${WARM:+-warm}-$i"); h+=("${o%% *}"); hp+=("$o")
      o=$(run_dockui "$WORK/$cli-$i.toml"); d+=("${o%% *}"); dp+=("$o")
    fi
    read -r _ b pu <<< "${dp[-1]}"; read -r _ hb hs hpu hv <<< "${hp[-1]}"
    printf '   run %d: dockui %7.0f ms (build+smoke %6.0f, push+verify %6.0f)   hand %7.0f ms (build %6.0f, run %5.0f, push %5.0f, rmi+pull %5.0f)\n' \
      "$i" "${d[-1]}" "$b" "$pu" "${h[-1]}" "$hb" "$hs" "$hpu" "$hv"
  done
  dm=$(printf '%s\n' "${d[@]}" | median); hm=$(printf '%s\n' "${h[@]}" | median); r=$(ratio "$dm" "$hm")
  col() { printf '%s\n' "${@:2}" | awk -v c="$1" '{print $c}' | median; }
  {
    echo "$name: dockui ${dm} ms ($(printf '%s\n' "${d[@]}" | spread)) vs hand ${hm} ms ($(printf '%s\n' "${h[@]}" | spread)), median of $RUNS"
    echo "   dockui pushed through: $(tr -d '\n ' < "$WORK/last-push.json" | grep -o '"kind":"[a-z]*"' | head -1)"
    echo "   ratio dockui/hand: $r (goal <= 0.5: $(verdict "$r" 0.5))"
    echo "   build: $(if [ -n "${WARM:-}" ]; then echo "layer cache ON on both sides, one source file edited before each build"; else echo "no layer cache on either side"; fi)"
    echo "   dockui phases (median): build+smoke $(col 2 "${dp[@]}") ms, push+verify $(col 3 "${dp[@]}") ms"
    echo "   hand phases (median):   build $(col 2 "${hp[@]}") ms, run smoke $(col 3 "${hp[@]}") ms, push $(col 4 "${hp[@]}") ms, rmi+pull by digest $(col 5 "${hp[@]}") ms"
  } >> "$WORK/summary"
}

echo "== project: $(grep -c '^RUN\|^COPY' "$P/Dockerfile") RUN/COPY steps, context $(du -sh "$P" | cut -f1); registry $REG; dockui builder ${BUILDER:-auto}"
echo "== engine $(docker version --format '{{.Server.Version}} (API {{.Server.APIVersion}})'); load $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$WORK/summary"

# ---- Docker engine ----
if [ -z "${NO_DOCKER:-}" ]; then
  bench_flow "docker engine, dockui builder=auto (BuildKit here)" docker
  # Like for like with the hand flow's builder: where dockui's gain comes from.
  [ -z "${NO_LEGACY:-}" ] && BUILDER=legacy bench_flow "docker engine, dockui builder=legacy" docker
  # The everyday loop: one source file changed, layer cache on both sides (`docker build` without
  # --no-cache). A warm-up run first fills each side's cache (BuildKit's and the legacy builder's).
  [ -z "${NO_WARM:-}" ] && WARM=1 NO_CACHE=false bench_flow "docker engine, EVERYDAY ITERATION (cache on, 1 file edited), dockui builder=auto" docker
fi

# ---- Podman ----
pm() { CONTAINERS_CONF="$WORK/podman/containers.conf" CONTAINERS_STORAGE_CONF="$WORK/podman/storage.conf" \
  CONTAINERS_REGISTRIES_CONF="$WORK/podman/registries.conf" podman "$@"; }
if [ -z "${NO_PODMAN:-}" ] && command -v podman >/dev/null; then
  d="$WORK/podman"; mkdir -p "$d/tmp"
  # default_ulimits: otherwise every container fails here with "error setting rlimit type 7" (NOFILE, raised past the
  # hard limit) or "type 6" (NPROC: any value near the hard limit is refused in this sandbox; 4096 is accepted).
  printf '[containers]\nnetns = "host"\ncgroupns = "host"\ndefault_ulimits = ["nofile=%s:%s", "nproc=4096:4096"]\n\n[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\nevents_logfile_path = "%s/events.log"\ntmp_dir = "%s/tmp"\n' "$(ulimit -Hn)" "$(ulimit -Hn)" "$d" "$d" > "$d/containers.conf"
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/graph"\nrunroot = "%s/run"\n' "$d" "$d" > "$d/storage.conf"
  printf 'unqualified-search-registries = []\n\n[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REG" > "$d/registries.conf"
  pm system service --time=0 "unix://$d/podman.sock" > "$d/service.log" 2>&1 &
  PODMAN_PID=$!
  for _ in $(seq 1 150); do curl -fs --unix-socket "$d/podman.sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fs --unix-socket "$d/podman.sock" http://d/_ping >/dev/null || { echo "podman service did not start:" >&2; cat "$d/service.log" >&2; exit 1; }
  # The same busybox base in Podman's storage.
  pm build -q -t "$BASE" "$WORK/base" >/dev/null
  echo "== podman $(pm version --format '{{.Server.Version}}' 2>/dev/null || pm --version)"
  bench_flow "podman (socket)" pm "$(printf '[engine]\nbackend = "auto"\ndocker_host = "unix://%s/podman.sock"' "$d")"
fi

# ---- BuildKit daemon ----
# No hand flow without buildctl, and no daemon without buildkitd: neither installs here (no internet beyond
# crates.io/PyPI/Debian). The engine's own BuildKit through its /grpc is what tests/buildkit_daemon.rs drives,
# which is not a standalone daemon's timing.
if ! "$DOCKUI" build --help 2>/dev/null | grep -qi 'buildkit'; then
  echo "buildkit daemon: skipped: this dockui has no BuildKit-daemon backend" >> "$WORK/summary"
elif ! command -v buildctl >/dev/null || { [ -z "${BUILDKIT_HOST:-}" ] && ! command -v buildkitd >/dev/null; }; then
  echo "buildkit daemon: not measured: no buildctl (the hand flow) and no buildkitd or BUILDKIT_HOST on this machine; dockui's daemon backend is in this build (tested through an h2c proxy of the engine's /grpc, tests/buildkit_daemon.rs)" >> "$WORK/summary"
else
  echo "buildkit daemon: not measured: this script has no BuildKit-daemon flow yet (buildctl and a daemon are there: add one)" >> "$WORK/summary"
fi

# ---- cache: a rebuild on a fresh engine with the cache imported vs without ----
if [ -z "${NO_CACHE_ROW:-}" ]; then
  if ! "$DOCKUI_CACHE" build --help 2>/dev/null | grep -q -- '--cache-from'; then
    echo "cache: skipped: $DOCKUI_CACHE has no --cache-from/--cache-to (issue 13 point 6 not in this build; DOCKUI_CACHE=path names one that has)" >> "$WORK/summary"
  else
    d="$WORK/d2"; mkdir -p "$d"
    # Its own bridge: never --bridge=none (that deletes the host's docker0).
    D2_BRIDGE="dkuibb$((ID % 100000))"
    ip link del "$D2_BRIDGE" 2>/dev/null || true
    ip link add "$D2_BRIDGE" type bridge
    ip addr add "10.253.$((ID % 200 + 20)).1/24" dev "$D2_BRIDGE"
    ip link set "$D2_BRIDGE" up
    dockerd --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" -H "unix://$d/docker.sock" \
      --bridge="$D2_BRIDGE" --iptables=false --ip-masq=false --ip-forward=false > "$d/dockerd.log" 2>&1 &
    D2_PID=$!
    for _ in $(seq 1 300); do curl -fs --unix-socket "$d/docker.sock" http://d/_ping >/dev/null 2>&1 && break; sleep 0.2; done
    curl -fs --unix-socket "$d/docker.sock" http://d/_ping >/dev/null || { echo "second dockerd did not start:" >&2; tail -20 "$d/dockerd.log" >&2; exit 1; }
    d2() { DOCKER_HOST="unix://$WORK/d2/docker.sock" docker "$@"; }
    fresh() { # every image gone, build cache pruned: only on our own engine
      d2 ps -aq | xargs -r docker -H "unix://$WORK/d2/docker.sock" rm -f >/dev/null 2>&1 || true
      d2 images -aq | sort -u | xargs -r docker -H "unix://$WORK/d2/docker.sock" rmi -f >/dev/null 2>&1 || true
      d2 builder prune -af >/dev/null 2>&1 || true
    }
    # The base from the registry (a fresh engine pulls it either way).
    docker tag "$BASE" "$REG/bench/base:$ID" && docker push "$REG/bench/base:$ID" >/dev/null
    docker rmi "$REG/bench/base:$ID" >/dev/null
    PC="$WORK/cproject"; mkproject "$PC" "$REG/bench/base:$ID"
    # A longer install step than the flow's project: the rebuild a cache saves is the slow one.
    sed -i 's/&& sleep 1$/\&\& sleep 6/' "$PC/Dockerfile"
    ccfg() { # file tag
      printf '[build]\nimage = "%s/bench/cached"\ntag = "%s"\nmax_attempts = 1\nauto_fix = "off"\nbuilder = "buildkit"\n\n[smoke]\ninfer = false\ncommands = []\n\n[engine]\nbackend = "docker"\ndocker_host = "unix://%s/d2/docker.sock"\n' \
        "$REG" "$2" "$WORK" > "$1"
    }
    echo "== cache: seeding $REG/bench/cached:cache (BuildKit, --cache-to type=inline) on a second dockerd"
    ccfg "$WORK/seed.toml" cache
    t "$DOCKUI_CACHE" build "$PC" --format json --config "$WORK/seed.toml" --cache-to type=inline >/dev/null
    t "$DOCKUI_CACHE" push "$PC" --format json --config "$WORK/seed.toml" >/dev/null
    grep -q '"verdict": "pullable"' "$WORK/out.stdout" || { echo "seed push not pullable:" >&2; cat "$WORK/out.stdout" >&2; exit 1; }
    with=(); without=()
    for i in $(seq 0 "$RUNS"); do
      ccfg "$WORK/c$i.toml" "c$i"
      fresh; a=$(t "$DOCKUI_CACHE" build "$PC" --format json --config "$WORK/c$i.toml" --cache-from "type=registry,ref=$REG/bench/cached:cache")
      grep -q '"success": true' "$WORK/out.stdout" || { echo "cached build failed" >&2; cat "$WORK/out.stdout" >&2; exit 1; }
      fresh; b=$(t "$DOCKUI_CACHE" build "$PC" --format json --config "$WORK/c$i.toml")
      grep -q '"success": true' "$WORK/out.stdout" || { echo "uncached build failed" >&2; cat "$WORK/out.stdout" >&2; exit 1; }
      if [ "$i" -eq 0 ]; then echo "   warm-up: with cache $a ms, without $b ms (not counted)"; continue; fi
      with+=("$a"); without+=("$b")
      printf '   run %d: with cache import %7.0f ms   without %7.0f ms\n' "$i" "$a" "$b"
    done
    fresh
    wm=$(printf '%s\n' "${with[@]}" | median); om=$(printf '%s\n' "${without[@]}" | median); r=$(ratio "$wm" "$om")
    {
      echo "cache (fresh engine, BuildKit): with --cache-from type=registry (inline cache) ${wm} ms ($(printf '%s\n' "${with[@]}" | spread)) vs without ${om} ms ($(printf '%s\n' "${without[@]}" | spread)), median of $RUNS"
      echo "   ratio with/without: $r (goal <= 0.25: $(verdict "$r" 0.25))"
    } >> "$WORK/summary"
  fi
fi

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) CPUs)"
cat "$WORK/summary"
