"""A cheap proxy for the fine-tuning variants: a linear probe on FROZEN all-MiniLM-L6-v2
sentence vectors, [CLS] pooler output vs mean over tokens (of the last layer and of each
layer below it), scored by MCC on CoLA's out_of_domain_dev. One forward pass over CoLA
(minutes on a contended CPU) instead of five fine-tuning runs per variant; it says which
vector carries more of the signal, not what fine-tuning reaches.

    python bench/probe_pooling.py [--seeds 1,2,3,4,5] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics

import torch

from minibert import BertModel
from minibert.hub import resolve_model_dir
from minibert.modeling_bert import mean_pool
from tokenizer import WordPieceTokenizer
from train.data.cola import cola_split
from train.data.download import cola_dir
from train.metrics import matthews_corrcoef


@torch.no_grad()
def vectors(model, tok, texts: list[str]) -> dict[str, torch.Tensor]:
    out_by_kind: dict[str, list[torch.Tensor]] = {}
    for i in range(0, len(texts), 128):
        batch = tok.to_tensors(tok.encode_batch(texts[i:i + 128], truncation=True,
                                                max_length=128))
        out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                    output_hidden_states=True)
        out_by_kind.setdefault("cls", []).append(out.pooler_output)
        # hidden_states[0] is the embeddings' output, [k] the output of layer k
        for k, h in enumerate(out.hidden_states[1:], 1):
            name = "mean" if k == len(out.hidden_states) - 1 else f"mean of layer {k}"
            out_by_kind.setdefault(name, []).append(mean_pool(h, batch["attention_mask"]))
    return {kind: torch.cat(parts) for kind, parts in out_by_kind.items()}


def probe(x: torch.Tensor, y: torch.Tensor, x_test: torch.Tensor, seed: int) -> list[int]:
    """Class-balanced logistic regression, a 10% random subsample left out per seed."""
    g = torch.Generator().manual_seed(seed)
    keep = torch.randperm(len(x), generator=g)[: int(0.9 * len(x))]
    x, y = x[keep], y[keep]
    mu, sd = x.mean(0), x.std(0) + 1e-6
    w = torch.zeros(x.shape[1], 2, requires_grad=True)
    b = torch.zeros(2, requires_grad=True)
    weight = len(y) / (2 * torch.bincount(y, minlength=2).float())
    opt = torch.optim.LBFGS([w, b], max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy((x - mu) / sd @ w + b, y, weight=weight)
        loss = loss + 1e-3 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return (((x_test - mu) / sd @ w + b).argmax(-1)).tolist()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model_dir = resolve_model_dir("all-MiniLM-L6-v2")
    model = BertModel.from_pretrained(model_dir, verbose=False).eval()
    tok = WordPieceTokenizer.from_pretrained(model_dir)
    root = cola_dir(None)
    train, test = cola_split(root, "in_domain_train"), cola_split(root, "out_of_domain_dev")
    xs = vectors(model, tok, [r.sentence for r in train])
    xt = vectors(model, tok, [r.sentence for r in test])
    y = torch.tensor([r.label for r in train])
    truth = [r.label for r in test]
    for kind in xs:
        mccs = [matthews_corrcoef(truth, probe(xs[kind], y, xt[kind], int(s)))
                for s in args.seeds.split(",")]
        print(f"frozen {kind:>15} vector + linear probe: out_of_domain_dev MCC "
              f"{statistics.mean(mccs):.4f} ± {statistics.stdev(mccs):.4f} "
              f"({', '.join(f'{m:.3f}' for m in mccs)})")


if __name__ == "__main__":
    main()
