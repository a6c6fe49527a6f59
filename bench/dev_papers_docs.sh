#!/usr/bin/env bash
# Fetch the four documents of eval/data/dev-papers.jsonl into the folder given, by package name:
#   bench/dev_papers_docs.sh DIR
# strucchange-intro.pdf (Debian r-cran-strucchange 1.5-3-1: the vignette "strucchange: An R Package for
# Testing for Structural Change in Linear Regression Models"), metafor.pdf (Debian r-cran-metafor 3.8-1-1:
# "Conducting Meta-Analyses in R with the metafor Package", JSS 2010), mcmc-demo.pdf (Debian r-cran-mcmc
# 0.9-7-1+b1: the vignette "MCMC Package Example", demo.pdf renamed) and yll.pdf (Debian r-cran-epi 2.47-1:
# the vignette "Years of Life Lost (YLL) to disease"). Each file is checked against the sha256 the set was
# written from: other versions have other pages, and the gold pages would be wrong. Nothing is put in DIR
# unless all four match (bench/unseen_docs_lib.sh).
set -euo pipefail
# shellcheck source=bench/unseen_docs_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/unseen_docs_lib.sh"

unpack_debs r-cran-strucchange=1.5-3-1 r-cran-metafor=3.8-1-1 r-cran-mcmc=0.9-7-1+b1 r-cran-epi=2.47-1
lib=root/usr/lib/R/site-library
cp "$lib/strucchange/doc/strucchange-intro.pdf" docs/
cp "$lib/metafor/doc/metafor.pdf" docs/
cp "$lib/mcmc/doc/demo.pdf" docs/mcmc-demo.pdf
cp "$lib/Epi/doc/yll.pdf" docs/

place_docs <<'SUMS'
77236906d559d9546e7edd6de1649d9184ba5b2216c18bc2410c71b081c37fe5  mcmc-demo.pdf
6d962b039ee9b4b9e14e29ca3120a43cf65267f7461ba4323dd03b790e21a559  metafor.pdf
56587481ea07ff51645290c24e328d4461656bcbf19d6e9426056e7559a4a198  strucchange-intro.pdf
6a7eef46ea1af5b5d7e2ab4ff399354236235f7e521e264fce46681080f83f1f  yll.pdf
SUMS
echo "the dev-papers documents are in $out"
