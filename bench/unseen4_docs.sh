#!/usr/bin/env bash
# Fetch the four documents of eval/data/unseen4-manuals.jsonl into the folder given, by package name:
#   bench/unseen4_docs.sh DIR
# libconfig.pdf (Debian libconfig-doc 1.5-0.4: the libconfig 1.5 manual, gunzipped), mpfr.pdf (Debian
# libmpfr-doc 4.2.0-1: the GNU MPFR 4.2.0 manual, gunzipped), sandwich.pdf (Debian r-cran-sandwich
# 3.0-2-1: the vignette "Econometric Computing with HC and HAC Covariance Matrix Estimators") and
# debian-constitution.txt (Debian doc-debian 11.3+nmu1: the Debian Constitution v1.9, gunzipped and
# renamed). Each file is checked against the sha256 the set was written from: other versions have
# other pages, and the gold pages would be wrong. Nothing is put in DIR unless all four match
# (bench/unseen_docs_lib.sh).
set -euo pipefail
# shellcheck source=bench/unseen_docs_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/unseen_docs_lib.sh"

unpack_debs libconfig-doc=1.5-0.4 libmpfr-doc=4.2.0-1 r-cran-sandwich=3.0-2-1 doc-debian=11.3+nmu1
gunzip -c root/usr/share/doc/libconfig-doc/libconfig.pdf.gz > docs/libconfig.pdf
gunzip -c root/usr/share/doc/libmpfr-doc/mpfr.pdf.gz > docs/mpfr.pdf
cp root/usr/lib/R/site-library/sandwich/doc/sandwich.pdf docs/
gunzip -c root/usr/share/doc/debian/constitution.txt.gz > docs/debian-constitution.txt

place_docs <<'SUMS'
9722b279df1539e4446581b4384d10ffb6540a535ec62f4ad1ce02b961a8f06e  debian-constitution.txt
237c4e3cf42cc3ea0fabf8b3a9d014a76ad9ce12523682b104e15d1fe86e575e  libconfig.pdf
5dc8bca3083e0c02478aab4196af0737aaece9401fd290127b40ef104cdc63af  mpfr.pdf
ab762c22ff2d6b0c26e6e642171f116a11ec4dcfe58821148bdf41856f293a1b  sandwich.pdf
SUMS
echo "the unseen4 documents are in $out"
