# Sourced by bench/unseen2_docs.sh to unseen5_docs.sh and dev_papers_docs.sh (with the script's arguments):
# the parts they share. It checks that one folder was given, sets $out to it (made if need be, absolute)
# and $work to a hidden staging folder inside it (removed on exit), and enters $work with an empty docs/.
# unpack_debs downloads the pinned Debian packages named as its arguments and unpacks them into root/.
# place_docs then checks docs/ against the sha256 sums on its standard input and moves the files into
# $out only when all match, so a failed or interrupted run leaves $out as it was (ingest and
# eval.dataset skip hidden folders).
if [ $# -ne 1 ]; then
    echo "usage: $0 DIR (the folder to put the documents in)" >&2
    exit 2
fi
fail() {
    echo "error: $1" >&2
    exit 1
}
out=$(mkdir -p "$1" 2>/dev/null && cd "$1" && pwd) || fail "cannot make the folder $1"
work=$(mktemp -d "$out/.$(basename "$0" .sh)-download.XXXXXX")  # beside DIR's files: moving them in is a rename
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir docs

unpack_debs() {
    apt-get download "$@" >apt.log 2>&1 \
        || fail "apt-get download $* failed ($(grep -m1 '^E:' apt.log || tail -n1 apt.log)); run: apt-get update, then this again"
    for deb in *.deb; do dpkg-deb -x "$deb" root; done
}

place_docs() {
    cd "$work/docs"
    sha256sum --check --quiet >../sums.log 2>&1 \
        || fail "$(grep -m1 FAILED ../sums.log): not the version the set was written from; nothing was put in $out"
    mv -f -- * "$out/"
}
