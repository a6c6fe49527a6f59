#!/usr/bin/env bash
# The README's first command as a fresh clone on an AVX2-only CPU runs it, emulated where none is at hand:
#   bench/avx2_readme.sh DIR [QEMU_CPU [DOCUMENTS]]
# QEMU_CPU defaults to EPYC-Rome (an AMD Zen 2: AVX2, no AVX-512, no bf16), DOCUMENTS (what is ingested, relative
# to the clone) to samples. QEMU emulates AVX2's float arithmetic in software, about 200x slower than this
# CPU computes it (0.5 GFLOP/s for a float32 matmul), so ingesting all of samples/ (1,247 chunks) takes hours;
# samples/R-data.pdf (142 chunks) holds the answer to the README's question and takes minutes.
# Clones this repository's HEAD into DIR/repo and installs it as the README does (pip runs natively: what it
# installs does not depend on the CPU's vector instructions). Every later step runs its Python under QEMU's
# user-mode emulation of QEMU_CPU: the venv's python is replaced by a wrapper that starts QEMU, and Python's
# children (vLLM's engine, Streamlit) start through sys.executable, so they are emulated too. /proc/cpuinfo
# is bind-mounted, in a private mount namespace, with the AVX-512, AMX and AVX-VNNI flags left out, so what
# reads it (serve's dtype choice) sees the emulated CPU as torch and vLLM do through CPUID. Caches are
# fresh under DIR, pip's excepted; llm_timeout is an hour unless GROUNDWORK_LLM_TIMEOUT is set (QEMU reads a
# prompt ~200x slower than a real CPU). Prints each step's seconds; the UI is stopped with SIGINT to its process
# group, as Ctrl-C in its terminal does, and the seconds it took to exit are printed.
# Emulated time is not a real CPU's time: the figures say that each step passes and in what order of time,
# not how fast a real Zen 2 is. Needs qemu-user >= 7.2 (AVX2 under TCG; Debian 12: apt-get install qemu-user)
# and root (unshare -m, mount --bind).
set -euo pipefail

if [ "${1:-}" = "--inside" ]; then  # in the private mount namespace: the emulated steps
    work=$2 documents=$3
    mount --bind "$work/cpuinfo" /proc/cpuinfo
    cd "$work/repo"
    export XDG_CACHE_HOME="$work/cache" XDG_STATE_HOME="$work/state"
    # Emulated, a ~1,300-token prompt takes minutes to read before the first word (a real CPU: seconds).
    export GROUNDWORK_LLM_TIMEOUT="${GROUNDWORK_LLM_TIMEOUT:-3600}"
    trap '.venv/bin/groundwork serve --stop > /dev/null 2>&1 || true' EXIT  # a failed step leaves no server behind
    step() {
        local start; start=$(date +%s.%N)
        echo "=== $*"
        "$@" || { echo "=== FAILED (exit $?) after $(echo "$(date +%s.%N) - $start" | bc) s: $*"; return 1; }
        echo "=== passed in $(echo "$(date +%s.%N) - $start" | bc) s: $*"
    }
    echo "flags in /proc/cpuinfo: $(grep -m1 '^flags' /proc/cpuinfo | grep -o '\bavx[^ ]*\|\bamx[^ ]*' | paste -sd' ')"
    .venv/bin/python -c "import torch; print('torch dispatches to', torch.backends.cpu.get_cpu_capability())"
    step .venv/bin/groundwork ingest "$documents" --library library
    step .venv/bin/groundwork models prepare
    step .venv/bin/groundwork serve --detach
    step .venv/bin/groundwork ask "How can I read data from an Excel spreadsheet?" --library library
    step .venv/bin/groundwork ask "How can I read data from an Excel spreadsheet?" --library library --mode generative
    start=$(date +%s)
    # A script's `cmd &` starts cmd with SIGINT ignored, and the UI keeps a stop signal ignored at start (as nohup
    # asks); a terminal's Ctrl-C reaches a UI whose SIGINT is at its default, so start it so.
    setsid env --default-signal=INT .venv/bin/groundwork ui --library library > "$work/ui.log" 2>&1 &
    ui=$!
    for _ in $(seq 1200); do
        curl -sf http://127.0.0.1:8501/_stcore/health > /dev/null && break
        kill -0 "$ui" 2> /dev/null || break
        sleep 1
    done
    echo "=== ui: health '$(curl -s http://127.0.0.1:8501/_stcore/health)' after $(( $(date +%s) - start )) s," \
         "page $(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8501/)"
    kill -INT -- "-$ui"
    start=$(date +%s.%N)
    for _ in $(seq 600); do kill -0 "$ui" 2> /dev/null || break; sleep 0.1; done
    if kill -0 "$ui" 2> /dev/null; then
        echo "=== FAILED: ui still running 60 s after SIGINT"; kill -KILL -- "-$ui"; status=1
    else
        echo "=== ui stopped $(echo "$(date +%s.%N) - $start" | bc) s after SIGINT"; status=0
    fi
    step .venv/bin/groundwork serve --stop
    exit $status
fi

[ $# -ge 1 ] || { echo "usage: bench/avx2_readme.sh DIR [QEMU_CPU]" >&2; exit 2; }
command -v qemu-x86_64 > /dev/null || { echo "error: qemu-x86_64 not found; run: apt-get install qemu-user" >&2; exit 2; }
work=$(realpath -m "$1")
cpu=${2:-EPYC-Rome}
documents=${3:-samples}
here=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
# QEMU's TCG cannot emulate some of the model's features (rdseed, sha-ni, ...) and warns of each in every
# process it starts; leave them out of the model.
missing=$(qemu-x86_64 -cpu "$cpu" /bin/true 2>&1 | sed -n 's/.*requested feature: CPUID.*[.]\([a-z0-9_-]*\) \[bit.*/-\1/p' | paste -sd,)
model="$cpu${missing:+,$missing}"
python=$(realpath "$(python3 -c 'import sys; print(sys.executable)')")
probe=$(qemu-x86_64 -cpu "$model" "$python" -c "import platform; print(platform.machine())" 2>&1) \
    || { echo "error: QEMU cannot run python3 as $cpu: $probe" >&2; exit 2; }

rm -rf "$work" && mkdir -p "$work"
git clone -q "$here" "$work/repo"
echo "commit $(git -C "$work/repo" rev-parse --short HEAD), emulated CPU $model"
sed -E 's/ (avx512[a-z0-9_]*|amx[a-z0-9_]*|avx_vnni[a-z0-9_]*)\b//g' /proc/cpuinfo > "$work/cpuinfo"

cd "$work/repo"
start=$(date +%s)
python3 -m venv .venv && .venv/bin/pip install -q torch==2.13.0 -e '.[cpu,serve]' \
    && .venv/bin/pip uninstall -q -y torchvision torchaudio torchcodec
echo "=== install (native) passed in $(( $(date +%s) - start )) s"

real=$(realpath .venv/bin/python3)
rm .venv/bin/python3
cat > .venv/bin/python3 <<EOF
#!/bin/sh
# This venv's Python, run by QEMU as $cpu; -0 keeps argv[0], so sys.executable is this wrapper again.
exec qemu-x86_64 -cpu $model -0 "\$0" $real "\$@"
EOF
chmod +x .venv/bin/python3

start=$(date +%s)
unshare -m "$here/bench/avx2_readme.sh" --inside "$work" "$documents" && status=0 || status=$?
echo "=== emulated steps: exit $status after $(( $(date +%s) - start )) s"
exit $status
