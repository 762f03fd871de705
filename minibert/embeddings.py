"""The input layer: token ids -> vectors, before any attention.

    embeddings = LayerNorm(word[input_ids] + token_type[token_type_ids] + position[position_ids])
    then dropout

Follows Devlin et al. 2018 section 3 (figure 2: token + segment + position embeddings, all
learned) and Liu et al. 2019 / fairseq for RoBERTa's position ids, which count only real
tokens and start at padding_idx + 1, so a padding token sits at position padding_idx (a row
that is kept at zero). That is why RoBERTa checkpoints have 514 positions for 512 tokens.

Shapes: B batch, T sequence length, H hidden size.

Left out on purpose: inputs_embeds (feeding vectors instead of ids), relative positions.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import BertConfig


def roberta_position_ids(input_ids: torch.Tensor, padding_idx: int,
                         real: torch.Tensor | None = None) -> torch.Tensor:
    """Positions padding_idx+1, padding_idx+2, ... for real tokens; padding_idx for padding.

    Counting with a cumulative sum makes positions independent of where the padding is, so a
    left-padded sequence gets the same positions as the unpadded one. `real` (B, T), 1 for
    real tokens, defaults to input_ids != padding_idx; a key/value cache passes the attention
    mask instead, since the ids of the cached tokens are no longer at hand.
    """
    if real is None:
        real = input_ids.ne(padding_idx)
    real = real.int()  # (B, T) 1 for real tokens
    return (torch.cumsum(real, dim=1) * real).long() + padding_idx  # (B, T)


def usable_positions(config: BertConfig, roberta_positions: bool | None = None) -> int:
    """The most tokens one input may have: one row of the position table each, less the rows
    RoBERTa's positions skip (they start after padding_idx). roberta_positions: whether the
    model numbers positions RoBERTa's way (default: a config of model_type "roberta")."""
    if roberta_positions is None:
        roberta_positions = config.model_type == "roberta"
    skipped = config.pad_token_id + 1 if roberta_positions else 0
    return config.max_position_embeddings - skipped


class Embeddings(nn.Module):
    def __init__(self, config: BertConfig, roberta_positions: bool = False):
        super().__init__()
        self.config = config
        self.roberta_positions = roberta_positions
        self.padding_idx = config.pad_token_id
        H = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, H, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(
            config.max_position_embeddings, H,
            padding_idx=config.pad_token_id if roberta_positions else None)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, H)
        # `LayerNorm` (capitalised, unlike every other attribute) because the original
        # TensorFlow BERT named the variable so, and checkpoint keys are attribute paths:
        # `embeddings.LayerNorm.weight` must match the real bert-base-uncased files.
        self.LayerNorm = nn.LayerNorm(H, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    @property
    def max_length(self) -> int:
        """The most tokens one input may have (`usable_positions`)."""
        return usable_positions(self.config, self.roberta_positions)

    def _check_inputs(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None,
                      position_ids: torch.Tensor | None) -> None:
        """Fail with a message a learner can act on, instead of torch's 'index out of range'.

        Shapes are checked always. Values only in eager mode on the CPU, where reading them
        costs a small reduction: on a GPU it would stall the host on every step, and under
        torch.compile it would break the graph (CUDA's own index check still fires there).
        """
        if input_ids.dim() != 2:
            raise ValueError(
                f"input_ids must be (batch, seq_len), got shape {tuple(input_ids.shape)}")
        if token_type_ids is not None and token_type_ids.shape != input_ids.shape:
            raise ValueError(f"token_type_ids shape {tuple(token_type_ids.shape)} != "
                             f"input_ids shape {tuple(input_ids.shape)}")
        T, P, limit = input_ids.size(1), self.config.max_position_embeddings, self.max_length
        if position_ids is None and T > limit and not self.roberta_positions:
            raise ValueError(f"sequence length {T} is longer than this model allows "
                             f"({limit} tokens: max_position_embeddings={P}); truncate the input")
        if input_ids.device.type == "cpu" and not torch.compiler.is_compiling():
            self._check_values(input_ids, token_type_ids, position_ids, limit)

    def _check_values(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None,
                      position_ids: torch.Tensor | None, limit: int) -> None:
        V, P = self.config.vocab_size, self.config.max_position_embeddings
        if int(input_ids.min()) < 0 or int(input_ids.max()) >= V:
            raise ValueError(f"input_ids must lie in [0, {V}) (vocab_size), got values in "
                             f"[{int(input_ids.min())}, {int(input_ids.max())}]")
        # RoBERTa counts only real tokens, so a long but mostly padded batch may still fit.
        if (position_ids is None and self.roberta_positions and input_ids.size(1) > limit
                and int(input_ids.ne(self.padding_idx).sum(1).max()) > limit):
            raise ValueError(f"sequence length {int(input_ids.ne(self.padding_idx).sum(1).max())}"
                             f" is longer than this model allows ({limit} tokens: "
                             f"max_position_embeddings={P}); truncate the input")
        if position_ids is not None and int(position_ids.max()) >= P:
            raise ValueError(
                f"position id {int(position_ids.max())} >= max_position_embeddings={P}")
        if token_type_ids is not None:
            n = self.config.type_vocab_size
            if int(token_type_ids.max()) >= n or int(token_type_ids.min()) < 0:
                hint = (" (this model has a single segment, as RoBERTa: pass no token_type_ids "
                        "or all zeros)" if n == 1 else "")
                raise ValueError(f"token_type_ids must lie in [0, {n}) (type_vocab_size={n}), "
                                 f"got max {int(token_type_ids.max())}{hint}")

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None,
                position_ids: torch.Tensor | None = None) -> torch.Tensor:
        self._check_inputs(input_ids, token_type_ids, position_ids)
        _B, T = input_ids.shape
        if position_ids is None:
            if self.roberta_positions:
                position_ids = roberta_position_ids(input_ids, self.padding_idx)  # (B, T)
            else:
                position_ids = torch.arange(T, device=input_ids.device).unsqueeze(0)  # (1, T)
        x = self.word_embeddings(input_ids)  # (B, T, H)
        if token_type_ids is None:
            # Segment 0 everywhere: its row broadcast over the batch, no (B, T) zeros needed.
            x = x + self.token_type_embeddings.weight[0]
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(position_ids)  # (1 or B, T, H) broadcasts
        return self.dropout(self.LayerNorm(x))
