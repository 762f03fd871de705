"""`PreTrainedModel`: what every minibert model shares, apart from its forward pass.

  * weight initialisation as BERT's (Devlin et al. 2018; the TF code's truncated normal is
    a plain normal in Hugging Face and here): Linear and Embedding weights ~ N(0, 0.02),
    biases 0, LayerNorm weight 1 and bias 0, an embedding's padding row 0;
  * weight tying: the masked-LM decoder's weight IS the word-embedding matrix (one tensor
    under two names, Press & Wolf 2017), while the decoder keeps its own bias;
  * `from_pretrained` / `save_pretrained`, which read and write Hugging Face model folders
    through `minibert.checkpoint` (prefix handling, legacy names, the load report);
  * `model(..., return_dict=False)`, which gives the output's fields as a tuple.

Subclasses set `base_model_prefix` ("bert" or "roberta": the attribute holding the encoder,
hence the first part of every encoder key) and call `self.post_init()` last in `__init__`.

Left out on purpose: sharded checkpoints, device maps, quantisation, `push_to_hub`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import BertConfig


class PreTrainedModel(nn.Module):
    config_class = BertConfig
    base_model_prefix = ""

    def __init__(self, config: BertConfig):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(
                f"{type(self).__name__} needs a BertConfig, got {type(config).__name__}"
            )
        self.config = config
        self.load_report = None
        self.name_or_path = ""  # from_pretrained's folder or name, as transformers keeps it

    # ---- initialisation and tying -------------------------------------------------------

    @torch.no_grad()
    def _init_weights(self, module: nn.Module, generator: torch.Generator | None) -> None:
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            module.weight.normal_(0.0, std, generator=generator)
            if module.bias is not None:
                module.bias.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.normal_(0.0, std, generator=generator)
            if module.padding_idx is not None:
                module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.weight.fill_(1.0)
            module.bias.zero_()

    def init_weights(self, generator: torch.Generator | None = None) -> None:
        """(Re-)initialise every weight; pass a seeded torch.Generator for reproducibility."""
        self.tie_weights()
        if any(p.is_meta for p in self.parameters()):
            return  # a model built on the meta device only has shapes
        for module in self.modules():
            self._init_weights(module, generator)
        with torch.no_grad():
            # The decoder bias is a bare Parameter, not inside a Linear of its own.
            for name, param in self.named_parameters():
                if name.endswith("predictions.bias") or name == "lm_head.bias":
                    param.zero_()
            # A tied decoder weight was drawn again as a Linear after its Embedding: zero the
            # padding row last so it stays zero under both names.
            for module in self.modules():
                if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()

    def post_init(self, generator: torch.Generator | None = None) -> None:
        """Tie, then initialise; subclasses call this last in __init__."""
        self.init_weights(generator)

    def get_input_embeddings(self) -> nn.Embedding:
        base = getattr(self, self.base_model_prefix, self)
        return base.embeddings.word_embeddings

    def get_output_embeddings(self) -> nn.Linear | None:
        """The vocabulary projection of an LM head, or None for models without one."""
        return None

    def tie_weights(self) -> None:
        out = self.get_output_embeddings()
        if out is not None:
            out.weight = self.get_input_embeddings().weight

    def num_parameters(self, only_trainable: bool = False) -> int:
        """Parameters counted once each (a tied weight is one tensor)."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not only_trainable)

    # ---- calling ------------------------------------------------------------------------

    def __call__(self, *args: Any, return_dict: bool | None = None, **kwargs: Any):
        """`model(...)` runs forward (through nn.Module's hooks) and returns its output
        object; `return_dict=False` returns `output.to_tuple()` instead, the set fields in
        order, as transformers does (`loss, logits = model(..., labels=y, return_dict=False)`).
        """
        out = super().__call__(*args, **kwargs)
        return out if return_dict is None or return_dict else out.to_tuple()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.parameters()).dtype

    # ---- checkpoints --------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *,
                        ignore_mismatched_sizes: bool = False, verbose: bool = True,
                        dtype: torch.dtype | str | None = None,
                        torch_dtype: torch.dtype | str | None = None,
                        **config_overrides: Any) -> PreTrainedModel:
        """Build the model from a Hugging Face folder (or a name resolved to one) and load it.

        `config_overrides` replace config.json fields, e.g. num_labels=2 for a new head; a
        keyword that is no field is refused (a misspelt num_labels would otherwise be lost).
        ignore_mismatched_sizes=True re-initialises a head whose shape differs instead of
        failing. dtype (transformers 4: torch_dtype): the weights' dtype, a torch.dtype, its
        name, or "auto" for the one the file stores; default float32. The returned model is
        in eval mode and carries `model.load_report`.
        """
        from . import checkpoint

        model_dir = checkpoint.resolve_model_dir(name_or_path)
        _check_overrides(cls, cls.config_class.from_pretrained(model_dir), config_overrides)
        config = cls.config_class.from_pretrained(model_dir, **config_overrides)
        model = cls(config)
        state_dict, source = checkpoint.read_state_dict(model_dir)
        report = checkpoint.load_into(model, state_dict, source,
                                      ignore_mismatched_sizes=ignore_mismatched_sizes)
        model.tie_weights()
        model.load_report = report
        model.name_or_path = str(name_or_path)
        wanted = _weights_dtype(torch_dtype if dtype is None else dtype, state_dict)
        if wanted is not None:
            model.to(wanted)
        if verbose:
            print(report)
        return model.eval()

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write config.json + model.safetensors in Hugging Face layout; returns the folder."""
        from . import checkpoint

        return checkpoint.save_model(self, directory)


def _check_overrides(cls: type, config: BertConfig, overrides: dict) -> None:
    """Refuse keywords of `from_pretrained` that name no config field (nor a key of the
    folder's config.json), as transformers refuses them in the model's __init__."""
    import dataclasses
    import difflib

    fields = {f.name for f in dataclasses.fields(config)} - {"extra"}
    unknown = sorted(set(overrides) - fields - set(config.extra))
    if unknown:
        hints = [f"{k} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(k, fields, 1))
                 else k for k in unknown]
        raise TypeError(f"{cls.__name__}.from_pretrained: unknown keyword(s) "
                        f"{', '.join(hints)}; it takes config fields such as num_labels, "
                        "id2label, hidden_dropout_prob, plus dtype, ignore_mismatched_sizes "
                        "and verbose")


def _weights_dtype(dtype: torch.dtype | str | None, state_dict: dict) -> torch.dtype | None:
    """from_pretrained's dtype as a torch.dtype: "auto" is the dtype of the file's floating
    tensors, a name ("bfloat16") the torch dtype of that name; None leaves float32."""
    if dtype is None:
        return None
    if dtype == "auto":
        stored = [t.dtype for t in state_dict.values() if t.is_floating_point()]
        return stored[0] if stored else None
    found = dtype if isinstance(dtype, torch.dtype) else getattr(torch, str(dtype), None)
    if not isinstance(found, torch.dtype) or not found.is_floating_point:
        raise ValueError(f"from_pretrained: dtype={dtype!r} is not a floating torch dtype; "
                         "expected e.g. torch.bfloat16, \"float16\" or \"auto\"")
    return found
