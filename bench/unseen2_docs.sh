#!/usr/bin/env bash
# Fetch the five documents of eval/data/unseen2-manuals.jsonl into the folder given, by package name:
#   bench/unseen2_docs.sh DIR
# flex.pdf (Debian flex-doc 2.6.4-8.2), gmpl.pdf and cnfsat.pdf (Debian glpk-doc 5.0-1), and
# python-dotenv 1.2.4's README.md and CHANGELOG.md from its PyPI sdist, renamed so that each file
# name is unique (a question names its document by file name). Each file is checked against the
# sha256 the set was written from: other versions have other pages, and the gold pages would be wrong.
# Nothing is put in DIR unless all five match (bench/unseen_docs_lib.sh).
set -euo pipefail
# shellcheck source=bench/unseen_docs_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/unseen_docs_lib.sh"

unpack_debs flex-doc=2.6.4-8.2 glpk-doc=5.0-1
gunzip -c root/usr/share/doc/flex-doc/flex.pdf.gz > docs/flex.pdf
cp root/usr/share/doc/glpk-doc/gmpl.pdf root/usr/share/doc/glpk-doc/cnfsat.pdf docs/

python3 -m pip download --quiet --no-deps --no-binary :all: python-dotenv==1.2.4 >pip.log 2>&1 \
    || fail "pip download python-dotenv==1.2.4 failed ($(grep -m1 '^ERROR' pip.log || tail -n1 pip.log)); check the package index (PIP_INDEX_URL) and run this again"
tar xzf python_dotenv-1.2.4.tar.gz
cp python_dotenv-1.2.4/README.md docs/python-dotenv-README.md
cp python_dotenv-1.2.4/CHANGELOG.md docs/python-dotenv-CHANGELOG.md

place_docs <<'SUMS'
87520dcbde789ffad0b31ebcfb1466f1a6401fdf44b6a1790ed1d5105e7cace1  cnfsat.pdf
d4c4021c02bf7cae2f2756876ff906302caa93ca309f295e0554c23ce050e177  flex.pdf
df54ba811d1fe3c041447b575997298d63b0a6366e39454ef2efc382f08203c2  gmpl.pdf
9624424663b8c6282237c63ce603c5e82ecb72211e8fbaa42eb535388c80255e  python-dotenv-CHANGELOG.md
e24837acf59e35b4430f369354b56ff39837240529eed4bdccee97c50aee68d4  python-dotenv-README.md
SUMS
echo "the unseen2 documents are in $out"
