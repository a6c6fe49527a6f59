#!/usr/bin/env bash
# Fetch the four documents of eval/data/unseen6-manuals.jsonl into the folder given, by package name:
#   bench/unseen6_docs.sh DIR
# deSolve.pdf (Debian r-cran-desolve 1.34-1: the vignette "Package deSolve: Solving Initial Value
# Differential Equations in R", Soetaert, Petzoldt, Setzer), Rcpp-FAQ.pdf (Debian r-cran-rcpp 1.0.10-1:
# the vignette "Rcpp FAQ", Eddelbuettel and Francois), quilt.html (Debian quilt 0.67+really0.66-1: "How To
# Survive With Many Patches or Introduction to Quilt", Gruenbacher) and coverage.py 7.17.5's
# doc/config.rst from its PyPI sdist ("Configuration reference"), renamed coverage-config.txt (ingest
# reads .txt, not .rst). Each file is checked against the sha256 the set was written from: other versions
# have other pages, and the gold pages would be wrong. Nothing is put in DIR unless all four match
# (bench/unseen_docs_lib.sh).
set -euo pipefail
# shellcheck source=bench/unseen_docs_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/unseen_docs_lib.sh"

unpack_debs r-cran-desolve=1.34-1 r-cran-rcpp=1.0.10-1 quilt=0.67+really0.66-1
lib=root/usr/lib/R/site-library
cp "$lib/deSolve/doc/deSolve.pdf" docs/
cp "$lib/Rcpp/doc/Rcpp-FAQ.pdf" docs/
cp root/usr/share/doc/quilt/quilt.html docs/

python3 -m pip download --quiet --no-deps --no-binary :all: coverage==7.17.5 >pip.log 2>&1 \
    || fail "pip download coverage==7.17.5 failed ($(grep -m1 '^ERROR' pip.log || tail -n1 pip.log)); check the package index (PIP_INDEX_URL) and run this again"
tar xzf coverage-7.17.5.tar.gz coverage-7.17.5/doc/config.rst
cp coverage-7.17.5/doc/config.rst docs/coverage-config.txt

place_docs <<'SUMS'
65716698ef08a34c7a33883289d74f33b9defb45f66dc8f9e63fb42a45389e40  Rcpp-FAQ.pdf
cb6bd2d2af04d9e5517bbe8358397def7cfacdc8a8c63c88dfc9bb8b9350c3fb  coverage-config.txt
9fab58cdd0cd8771a13238b35491ae856a33fe632e9f816918ff303e4f73ef98  deSolve.pdf
8820d3048a41ce3344160f0e01b3f104055a89792c72f23cd88f12a369a5b9d3  quilt.html
SUMS
echo "the unseen6 documents are in $out"
