#!/usr/bin/env bash
# Copy the four documents of eval/data/dev-manuals2.jsonl from an installed Debian system into the folder given:
#   bench/dev_manuals2_docs.sh DIR
# nettle.pdf (Debian nettle-dev: /usr/share/doc/nettle-dev/nettle.pdf.gz, gunzipped), bzip2.pdf (Debian
# bzip2-doc: /usr/share/doc/bzip2/manual.pdf.gz, gunzipped and renamed), ninja-manual.html (Debian
# ninja-build: /usr/share/doc/ninja-build/manual.html, renamed) and fontconfig-user.pdf (Debian fontconfig:
# /usr/share/doc/fontconfig/fontconfig-user.pdf.gz, gunzipped). The set was written from nettle-dev 3.8.1-2,
# bzip2-doc 1.0.8-5, ninja-build 1.11.1-2~deb12u1 and fontconfig 2.14.1-4 (Debian 12); each file is checked
# against the sha256 it was written from, since other versions have other pages and the gold pages would be
# wrong. Nothing is put in DIR unless all four are there and match.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
out=$1

# source (under /usr/share/doc), Debian package, its version, name in DIR, sha256 of the file as placed in DIR
docs=(
    "nettle-dev/nettle.pdf.gz nettle-dev 3.8.1-2 nettle.pdf fa0c6394acde69113eb33202a4c9ba33a4858429f2d735bc2707d41112da98f5"
    "bzip2/manual.pdf.gz bzip2-doc 1.0.8-5 bzip2.pdf 1dd1f12b3dcb0894481708881ed8d052c769f3820c06839c702c8cfad973d7d3"
    "ninja-build/manual.html ninja-build 1.11.1-2~deb12u1 ninja-manual.html b1a2f010c30cfe7da72773b5e510eef3668a02f862e678462262780b3326f004"
    "fontconfig/fontconfig-user.pdf.gz fontconfig 2.14.1-4 fontconfig-user.pdf 8851a84c668b22261828d36a10f9c46dac3faadf78122995dd92842f9f51747f"
)

for entry in "${docs[@]}"; do
    read -r src pkg _ _ _ <<<"$entry"
    if [ ! -f "/usr/share/doc/$src" ]; then
        echo "error: /usr/share/doc/$src is missing: run 'sudo apt-get install $pkg' (if $pkg is installed, a dpkg path-exclude in /etc/dpkg/dpkg.cfg.d may drop /usr/share/doc)" >&2
        exit 1
    fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for entry in "${docs[@]}"; do
    read -r src pkg version name sum <<<"$entry"
    case "$src" in
        *.gz) gunzip -c "/usr/share/doc/$src" > "$tmp/$name" ;;
        *) cp "/usr/share/doc/$src" "$tmp/$name" ;;
    esac
    if ! echo "$sum  $tmp/$name" | sha256sum --check --status; then
        echo "error: $name (from /usr/share/doc/$src) differs from the one the set was written from; it needs $pkg $version (installed: $(dpkg-query -W -f '${Version}' "$pkg" 2>/dev/null || echo unknown))" >&2
        exit 1
    fi
done

mkdir -p "$out"
for entry in "${docs[@]}"; do
    read -r _ _ _ name _ <<<"$entry"
    cp "$tmp/$name" "$out/$name"
done
echo "the dev-manuals2 documents are in $out"
