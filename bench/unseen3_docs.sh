#!/usr/bin/env bash
# Fetch the four documents of eval/data/unseen3-manuals.jsonl into the folder given, by package name:
#   bench/unseen3_docs.sh DIR
# bash.pdf (Debian bash-doc 5.2.15-2: the bash(1) manual page as PDF), fhs-3.0.pdf (Debian
# debian-policy 4.6.2.0: the Filesystem Hierarchy Standard 3.0, gunzipped), compete.pdf (Debian
# r-cran-survival 3.5-3-1: the survival package's vignette on multi-state models and competing risks)
# and tabulate 0.10.0's README.md from its PyPI sdist, renamed tabulate-README.md. Each file is checked
# against the sha256 the set was written from: other versions have other pages, and the gold pages
# would be wrong. Nothing is put in DIR unless all four match (bench/unseen_docs_lib.sh).
set -euo pipefail
# shellcheck source=bench/unseen_docs_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/unseen_docs_lib.sh"

unpack_debs bash-doc=5.2.15-2 debian-policy=4.6.2.0 r-cran-survival=3.5-3-1
cp root/usr/share/doc/bash/bash.pdf docs/
gunzip -c root/usr/share/doc/debian-policy/fhs/fhs-3.0.pdf.gz > docs/fhs-3.0.pdf
cp root/usr/lib/R/library/survival/doc/compete.pdf docs/

python3 -m pip download --quiet --no-deps --no-binary :all: tabulate==0.10.0 >pip.log 2>&1 \
    || fail "pip download tabulate==0.10.0 failed ($(grep -m1 '^ERROR' pip.log || tail -n1 pip.log)); check the package index (PIP_INDEX_URL) and run this again"
tar xzf tabulate-0.10.0.tar.gz
cp tabulate-0.10.0/README.md docs/tabulate-README.md

place_docs <<'SUMS'
ebd1361fe662e7e6b7386da02986bda05a434f85667939f72356fa86de19dd6d  bash.pdf
1d83a2c90440051bef67554f06c942e418645a07e56d44e7cb1c42ba7c40ba88  compete.pdf
53d239e569a2d7b31a74fa09d585368c0f5a164e4624723fa2894660dd10fd23  fhs-3.0.pdf
29ab1e42f9839cc15815099062a1f455124fe95c9dff9cad16f37e51c4c1f19c  tabulate-README.md
SUMS
echo "the unseen3 documents are in $out"
