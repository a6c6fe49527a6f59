#!/usr/bin/env bash
# Fetch the four documents of eval/data/unseen5-manuals.jsonl into the folder given, by package name:
#   bench/unseen5_docs.sh DIR
# dotguide.pdf (Debian graphviz-doc 2.42.2-7+deb12u1: "Drawing graphs with dot", the dot user's guide,
# gunzipped), lmer.pdf (Debian r-cran-lme4 1.1-31-1: the vignette "Fitting Linear Mixed-Effects Models
# Using lme4", Bates, Maechler, Bolker, Walker), rfc3533.txt (Debian libogg-dev 1.3.5-3: RFC 3533, "The
# Ogg Encapsulation Format Version 0", gunzipped) and Django 5.2.8's docs/internals/security.txt from its
# PyPI sdist ("Django's security policies"), renamed django-security.txt. Each file is checked against
# the sha256 the set was written from: other versions have other pages, and the gold pages would be
# wrong. Nothing is put in DIR unless all four match (bench/unseen_docs_lib.sh).
set -euo pipefail
# shellcheck source=bench/unseen_docs_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/unseen_docs_lib.sh"

unpack_debs graphviz-doc=2.42.2-7+deb12u1 r-cran-lme4=1.1-31-1 libogg-dev=1.3.5-3
gunzip -c root/usr/share/doc/graphviz/pdf/dotguide.pdf.gz > docs/dotguide.pdf
cp root/usr/lib/R/site-library/lme4/doc/lmer.pdf docs/
gunzip -c root/usr/share/doc/libogg-dev/html/rfc3533.txt.gz > docs/rfc3533.txt

python3 -m pip download --quiet --no-deps --no-binary :all: Django==5.2.8 >pip.log 2>&1 \
    || fail "pip download Django==5.2.8 failed ($(grep -m1 '^ERROR' pip.log || tail -n1 pip.log)); check the package index (PIP_INDEX_URL) and run this again"
tar xzf django-5.2.8.tar.gz django-5.2.8/docs/internals/security.txt
cp django-5.2.8/docs/internals/security.txt docs/django-security.txt

place_docs <<'SUMS'
ea71da054e00be2e45b932f4d98e76902f998acdf710bb085aa6fe86c496d071  django-security.txt
6aa4a4f220de2a2a3a00f3cd48a6aebd972a2691dddfd228b97f0733b38e8066  dotguide.pdf
d13d6caf549b44c3543d01a7445c327ac472d266a8aee24f68a8d31d45d02ec9  lmer.pdf
f170265303dd32d026611f7e080338d15d5456643d1d4c22f2c32046860c5476  rfc3533.txt
SUMS
echo "the unseen5 documents are in $out"
