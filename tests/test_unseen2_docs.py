"""bench/unseen2_docs.sh to unseen6_docs.sh and dev_papers_docs.sh: a failed fetch says why in one line and leaves the folder as it was."""
import gzip
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

BENCH = Path(__file__).parents[1] / "bench"
DOC = "usr/share/doc/"
# Per script: the .deb files apt-get "downloads" and the sdist pip "downloads" (None: it uses no pip),
# each holding look-alike files at the paths the script copies from (their sha256 never matches).
FETCHED = {
    "unseen2_docs.sh": ({
        "flex-doc_2.6.4-8.2_all.deb": {DOC + "flex-doc/flex.pdf.gz": gzip.compress(b"%PDF-1.5 other")},
        "glpk-doc_5.0-1_all.deb": {DOC + "glpk-doc/gmpl.pdf": b"%PDF-1.5 g", DOC + "glpk-doc/cnfsat.pdf": b"c"},
    }, ("python_dotenv-1.2.4.tar.gz", {"python_dotenv-1.2.4/README.md": b"# other",
                                       "python_dotenv-1.2.4/CHANGELOG.md": b"# other"})),
    "unseen3_docs.sh": ({
        "bash-doc_5.2.15-2_all.deb": {DOC + "bash/bash.pdf": b"%PDF-1.5 b"},
        "debian-policy_4.6.2.0_all.deb": {DOC + "debian-policy/fhs/fhs-3.0.pdf.gz": gzip.compress(b"%PDF-1.5 f")},
        "r-cran-survival_3.5-3-1_amd64.deb": {"usr/lib/R/library/survival/doc/compete.pdf": b"%PDF-1.5 c"},
    }, ("tabulate-0.10.0.tar.gz", {"tabulate-0.10.0/README.md": b"# other"})),
    "unseen4_docs.sh": ({
        "libconfig-doc_1.5-0.4_all.deb": {DOC + "libconfig-doc/libconfig.pdf.gz": gzip.compress(b"%PDF-1.5 l")},
        "libmpfr-doc_4.2.0-1_all.deb": {DOC + "libmpfr-doc/mpfr.pdf.gz": gzip.compress(b"%PDF-1.5 m")},
        "r-cran-sandwich_3.0-2-1_all.deb": {"usr/lib/R/site-library/sandwich/doc/sandwich.pdf": b"%PDF-1.5 s"},
        "doc-debian_11.3+nmu1_all.deb": {DOC + "debian/constitution.txt.gz": gzip.compress(b"other")},
    }, None),
    "unseen5_docs.sh": ({
        "graphviz-doc_2.42.2-7+deb12u1_all.deb": {DOC + "graphviz/pdf/dotguide.pdf.gz": gzip.compress(b"%PDF-1.5 d")},
        "r-cran-lme4_1.1-31-1_amd64.deb": {"usr/lib/R/site-library/lme4/doc/lmer.pdf": b"%PDF-1.5 l"},
        "libogg-dev_1.3.5-3_amd64.deb": {DOC + "libogg-dev/html/rfc3533.txt.gz": gzip.compress(b"other")},
    }, ("django-5.2.8.tar.gz", {"django-5.2.8/docs/internals/security.txt": b"other"})),
    "unseen6_docs.sh": ({
        "r-cran-desolve_1.34-1_amd64.deb": {"usr/lib/R/site-library/deSolve/doc/deSolve.pdf": b"%PDF-1.5 d"},
        "r-cran-rcpp_1.0.10-1_amd64.deb": {"usr/lib/R/site-library/Rcpp/doc/Rcpp-FAQ.pdf": b"%PDF-1.5 r"},
        "quilt_0.67+really0.66-1_all.deb": {DOC + "quilt/quilt.html": b"<html>other</html>"},
    }, ("coverage-7.17.5.tar.gz", {"coverage-7.17.5/doc/config.rst": b"other"})),
    "dev_papers_docs.sh": ({
        "r-cran-strucchange_1.5-3-1_all.deb": {
            "usr/lib/R/site-library/strucchange/doc/strucchange-intro.pdf": b"%PDF-1.5 s"},
        "r-cran-metafor_3.8-1-1_all.deb": {"usr/lib/R/site-library/metafor/doc/metafor.pdf": b"%PDF-1.5 m"},
        "r-cran-mcmc_0.9-7-1+b1_amd64.deb": {"usr/lib/R/site-library/mcmc/doc/demo.pdf": b"%PDF-1.5 d"},
        "r-cran-epi_2.47-1_amd64.deb": {"usr/lib/R/site-library/Epi/doc/yll.pdf": b"%PDF-1.5 y"},
    }, None),
}


def _tar(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _script(path: Path, body: str) -> None:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _stand_ins(bin_dir: Path, script: str, apt: str, pip: str) -> None:
    """apt-get, dpkg-deb and python3 (pip) as the script calls them: each fetches look-alike files, or fails."""
    bin_dir.mkdir()
    debs, sdist = FETCHED[script]
    for name, files in debs.items():
        _tar(bin_dir / name, files)
    if sdist:
        _tar(bin_dir / sdist[0], sdist[1])
    fetch = {"apt": f'cp "{bin_dir}"/*.deb .', "pip": f'cp "{bin_dir}"/{sdist[0]} .' if sdist else "exit 0"}
    _script(bin_dir / "apt-get", apt if apt != "works" else fetch["apt"])
    _script(bin_dir / "python3", pip if pip != "works" else fetch["pip"])
    _script(bin_dir / "dpkg-deb", 'mkdir -p "$3" && tar xzf "$2" -C "$3"')


@pytest.mark.parametrize("script, apt, pip, says", [
    ("unseen2_docs.sh", "echo \"E: Version '2.6.4-8.2' for 'flex-doc' was not found\" >&2; exit 100", "works",
     "error: apt-get download flex-doc=2.6.4-8.2 glpk-doc=5.0-1 failed (E: Version '2.6.4-8.2' for 'flex-doc'"),
    ("unseen2_docs.sh", "works", "echo 'ERROR: No matching distribution found for python-dotenv==1.2.4' >&2; exit 1",
     "error: pip download python-dotenv==1.2.4 failed (ERROR: No matching distribution found"),
    ("unseen2_docs.sh", "works", "works",
     "error: cnfsat.pdf: FAILED: not the version the set was written from; nothing was put in"),
    ("unseen3_docs.sh", "echo \"E: Version '5.2.15-2' for 'bash-doc' was not found\" >&2; exit 100", "works",
     "error: apt-get download bash-doc=5.2.15-2 debian-policy=4.6.2.0 r-cran-survival=3.5-3-1 failed (E: Version"),
    ("unseen3_docs.sh", "works", "echo 'ERROR: No matching distribution found for tabulate==0.10.0' >&2; exit 1",
     "error: pip download tabulate==0.10.0 failed (ERROR: No matching distribution found"),
    ("unseen3_docs.sh", "works", "works",
     "error: bash.pdf: FAILED: not the version the set was written from; nothing was put in"),
    ("unseen4_docs.sh", "echo \"E: Version '1.5-0.4' for 'libconfig-doc' was not found\" >&2; exit 100", "works",
     "error: apt-get download libconfig-doc=1.5-0.4 libmpfr-doc=4.2.0-1 r-cran-sandwich=3.0-2-1 doc-debian=11.3+nmu1"
     " failed (E: Version"),
    ("unseen4_docs.sh", "works", "works",
     "error: debian-constitution.txt: FAILED: not the version the set was written from; nothing was put in"),
    ("unseen5_docs.sh", "echo \"E: Version '1.1-31-1' for 'r-cran-lme4' was not found\" >&2; exit 100", "works",
     "error: apt-get download graphviz-doc=2.42.2-7+deb12u1 r-cran-lme4=1.1-31-1 libogg-dev=1.3.5-3 failed (E: Version"),
    ("unseen5_docs.sh", "works", "echo 'ERROR: No matching distribution found for Django==5.2.8' >&2; exit 1",
     "error: pip download Django==5.2.8 failed (ERROR: No matching distribution found"),
    ("unseen5_docs.sh", "works", "works",
     "error: django-security.txt: FAILED: not the version the set was written from; nothing was put in"),
    ("unseen6_docs.sh", "echo \"E: Version '1.34-1' for 'r-cran-desolve' was not found\" >&2; exit 100", "works",
     "error: apt-get download r-cran-desolve=1.34-1 r-cran-rcpp=1.0.10-1 quilt=0.67+really0.66-1 failed (E: Version"),
    ("unseen6_docs.sh", "works", "echo 'ERROR: No matching distribution found for coverage==7.17.5' >&2; exit 1",
     "error: pip download coverage==7.17.5 failed (ERROR: No matching distribution found"),
    ("unseen6_docs.sh", "works", "works",
     "error: Rcpp-FAQ.pdf: FAILED: not the version the set was written from; nothing was put in"),
    ("dev_papers_docs.sh", "works", "works",
     "error: mcmc-demo.pdf: FAILED: not the version the set was written from; nothing was put in"),
])
def test_a_failed_fetch_says_why_in_one_line_and_leaves_the_folder_as_it_was(tmp_path, script, apt, pip, says):
    _stand_ins(tmp_path / "bin", script, apt, pip)
    folder = tmp_path / "my docs"  # a space in its name, and a file of the user's already in it
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(BENCH / script), str(folder)], capture_output=True, text=True, env=env,
                          timeout=60)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # no unchecked document, no staging folder
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith(says), done.stderr
