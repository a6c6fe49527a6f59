#!/usr/bin/env bash
# The README's first command, as it stands, from a fresh clone with empty caches, on this machine:
#   bench/readme_first_command.sh [DIR]
# Clones this repository's HEAD into DIR (default: a new temporary folder), points XDG_CACHE_HOME and
# XDG_STATE_HOME there (pip's, Hugging Face's and Groundwork's caches start empty; the packages come from
# the configured index), runs the first ```bash block of README.md with each line of its output stamped with
# the seconds since the start, and once the UI answers on 127.0.0.1:8501 sends SIGINT to the command's
# process group, as Ctrl-C in its terminal does. Prints the seconds the UI took to stop, the exit code,
# whether a Streamlit, vLLM or watchdog process is left, and stops the vLLM that `serve --detach` left
# running. Needs ports 8000 and 8501 free, git, curl and bc. Exit 0 only when every step passed.
set -uo pipefail

here=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
work=$(realpath -m "${1:-$(mktemp -d)}")
[ -e "$work/repo" ] && { echo "error: $work/repo exists; give an empty folder" >&2; exit 2; }
for port in 8000 8501; do
    curl -s -m 2 -o /dev/null "http://127.0.0.1:$port/" && { echo "error: port $port answers already; stop what runs there" >&2; exit 2; }
done
git clone -q "$here" "$work/repo" || exit 2
cd "$work/repo" || exit 2
export XDG_CACHE_HOME="$work/cache" XDG_STATE_HOME="$work/state"
command=$(awk '/^```bash/ { getline; print; exit }' README.md)
grep -m1 '^model name' /proc/cpuinfo
echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o '\bavx[^ ]*\|\bamx[^ ]*' | paste -sd' ')"
echo "commit $(git rev-parse --short HEAD); the command: $command"
start=$(date +%s.%N)
since() { echo "$(date +%s.%N) - $1" | bc; }
# A script's `cmd &` starts cmd with SIGINT ignored; a terminal starts it with SIGINT at its default.
setsid env --default-signal=INT bash -c "$command" > >(while IFS= read -r line; do
    printf '%7.1f %s\n' "$(since "$start")" "$line"; done) 2>&1 &
group=$!
while kill -0 "$group" 2> /dev/null; do
    curl -sf -m 2 http://127.0.0.1:8501/_stcore/health > /dev/null && break
    sleep 2
done
status=0
if kill -0 "$group" 2> /dev/null; then
    echo "=== ui: health '$(curl -s http://127.0.0.1:8501/_stcore/health)', page" \
         "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8501/) after $(since "$start") s"
    kill -INT -- "-$group"
    stop=$(date +%s.%N)
    for _ in $(seq 600); do kill -0 "$group" 2> /dev/null || break; sleep 0.1; done
    if kill -0 "$group" 2> /dev/null; then
        echo "=== FAILED: the UI still runs 60 s after Ctrl-C"; kill -KILL -- "-$group"; status=1
    else
        echo "=== the UI stopped $(since "$stop") s after Ctrl-C"
    fi
    wait "$group"; code=$?
    echo "=== exit code $code"; [ "$code" -eq 0 ] || status=1
else
    wait "$group"; echo "=== FAILED: the command ended (exit code $?) before the UI answered"; status=1
fi
sleep 3
left=$(ps -eo pid,args | grep -E "$work/repo/.venv/bin/python[0-9.]* (-m streamlit|-P $work/repo/app/processes\.py)" | grep -v grep)
[ -z "$left" ] && echo "=== no Streamlit or watchdog left" || { echo "=== FAILED: left running:"; echo "$left"; status=1; }
.venv/bin/groundwork serve --stop  # the server `serve --detach` started, which the README says to stop so
exit $status
