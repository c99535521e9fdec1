# lib.sh — what the benchmark scripts share: messages, processes started and stopped cleanly,
# engines waited for, medians. Sourced (`. "$SCRIPT_DIR/lib.sh"`) after the script sets
# BENCH_NAME; die, wait_ping and stop_pid use the caller's PID and SOCK arrays
# (declare -A PID SOCK, keyed by engine).

die() { echo "$BENCH_NAME: $*" >&2; exit 2; }
say() { echo "== $*"; }

# spawn CMD...: CMD in the background in a session of its own (a Ctrl-C at the terminal does not
# reach it; the clean-up stops it) with no descriptor but stdio; $! is its PID.
spawn() {
  (
    for fd in $(ls /proc/$BASHPID/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
    exec setsid "$@"
  ) &
}

# stop_pid PID: SIGTERM, wait up to 30 s, then SIGKILL.
stop_pid() {
  local p=$1 i
  kill -0 "$p" 2>/dev/null || return 0
  kill -TERM "$p" 2>/dev/null
  for i in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$p" 2>/dev/null && { echo "!! pid $p ignored SIGTERM for 30 s: SIGKILL"; kill -KILL "$p" 2>/dev/null; }
  wait "$p" 2>/dev/null
  return 0
}

# mounts_under DIR: the mount points at or below DIR, deepest first.
mounts_under() { awk -v r="$1" '$5 == r || index($5, r "/") == 1 {print $5}' /proc/self/mountinfo | sort -r; }

# wait_ping ENGINE SECONDS: until the engine's socket answers /_ping (1 if it died or never did).
wait_ping() {
  local i
  for i in $(seq $(($2 * 10))); do
    curl -sf --unix-socket "${SOCK[$1]}" http://x/_ping >/dev/null 2>&1 && return 0
    kill -0 "${PID[$1]}" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# median NUMBERS...: the median (whole numbers: the mean of the middle two rounded down); the
# numbers may come as one space-separated word.
median() { printf '%s\n' $* | sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
