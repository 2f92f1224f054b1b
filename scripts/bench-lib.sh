# Shared by scripts/bench-build.sh and scripts/bench-tui.sh (sourced, not run).
# A busybox FROM scratch base image (no registry needed), and cleanup of everything a bench made, found by the
# label dockui.bench=$BENCH_ID that every bench image carries (intermediate images and containers inherit it).

bench_require_engine() {
  command -v docker >/dev/null || { echo "docker CLI not found" >&2; exit 2; }
  docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
    || { echo "the Docker engine does not answer (scripts/engine-up.sh starts it)" >&2; exit 2; }
}

bench_busybox() {
  local b="${DOCKUI_BUSYBOX:-$(command -v busybox || true)}"
  if [ -z "$b" ] || ! file -L "$b" 2>/dev/null | grep -q 'statically linked'; then
    echo "needs a static busybox (apt-get install busybox-static) or DOCKUI_BUSYBOX" >&2
    exit 2
  fi
  echo "$b"
}

# bench_base_image TAG WORKDIR: build the busybox base under TAG with the legacy builder.
bench_base_image() {
  local tag="$1" dir="$2/base"
  mkdir -p "$dir"
  cp "$(bench_busybox)" "$dir/busybox"
  cat > "$dir/Dockerfile" <<EOF
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/local/bin:/usr/bin:/bin
LABEL dockui.bench=$BENCH_ID
EOF
  DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$dir" >/dev/null 2>"$2/base.err" || { cat "$2/base.err" >&2; exit 1; }
}

# Remove every container and image labelled dockui.bench=$BENCH_ID (children before parents).
bench_cleanup_engine() {
  local ids
  ids=$(docker ps -aq --filter "label=dockui.bench=$BENCH_ID" 2>/dev/null || true)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1 || true
  # Newest first: an image's children are newer than it.
  for _ in 1 2 3; do
    ids=$(docker images -aq --filter "label=dockui.bench=$BENCH_ID" 2>/dev/null | awk '!seen[$0]++' || true)
    [ -z "$ids" ] && break
    for id in $ids; do docker rmi -f "$id" >/dev/null 2>&1 || true; done
  done
}

now_ns() { date +%s%N; }
ms_since() { awk -v a="$1" -v b="$(now_ns)" 'BEGIN{printf "%.1f", (b - a) / 1e6}'; }
median() { sort -n | awk '{a[NR]=$1} END{ if (NR % 2) printf "%.1f", a[(NR+1)/2]; else printf "%.1f", (a[NR/2] + a[NR/2+1]) / 2 }'; }
spread() { sort -n | awk '{a[NR]=$1} END{ printf "%.0f..%.0f", a[1], a[NR] }'; }
