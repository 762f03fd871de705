"""The key/value cache: what a causal model keeps between generation steps.

A causal layer's keys and values at position t depend only on tokens <= t, so once a token
has been through the model its keys and values never change. Generating token n+1 therefore
needs one new query, key and value per layer, not a re-run of all n tokens: the cache keeps
every layer's K and V and each step appends the new ones. The work per new token drops from
the whole sequence to one position (plus attending over the cached keys).

    step 1 (the prompt):  K, V of tokens 1..n       -> cache
    step 2:               K, V of token n+1 appended -> attend with 1 query over n+1 keys

This is what Hugging Face calls `past_key_values` (its DynamicCache keeps the same two
tensors per layer). minibert.generation uses it by default; `use_cache=False` there is the
reference path that re-runs the whole sequence, and a test checks the two give the same
tokens and logits.

Shapes: B batch, nh heads, T tokens so far, hs head size.

Left out on purpose: a preallocated (static) cache, beam-search reordering, sliding windows.
"""

from __future__ import annotations

import torch


class LayerCache:
    """One layer's keys and values, each (B, nh, T, hs), grown along T."""

    def __init__(self):
        self.key: torch.Tensor | None = None
        self.value: torch.Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.key is None else self.key.size(2)

    def append(self, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new positions' K and V; return K and V of every position so far."""
        assert key.shape == value.shape and key.dim() == 4, (
            f"key and value must both be (B, nh, T, hs), got {tuple(key.shape)}, "
            f"{tuple(value.shape)}"
        )
        if self.key is None:
            self.key, self.value = key, value
        else:
            assert key.shape[:2] == self.key.shape[:2] and key.shape[3] == self.key.shape[3], \
                f"new keys {tuple(key.shape)} do not fit the cached {tuple(self.key.shape)}"
            self.key = torch.cat([self.key, key], dim=2)  # (B, nh, T_past + T_new, hs)
            self.value = torch.cat([self.value, value], dim=2)
        return self.key, self.value


class KVCache:
    """Every layer's LayerCache; `length` is the number of positions already seen."""

    def __init__(self, num_layers: int):
        self.layers = [LayerCache() for _ in range(num_layers)]

    @property
    def length(self) -> int:
        return self.layers[0].length

    def __getitem__(self, i: int) -> LayerCache:
        return self.layers[i]
