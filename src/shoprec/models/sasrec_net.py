"""The SASRec network (Kang & McAuley, ICDM 2018): causal self-attention over right-aligned item sequences.

Pure tensor math, nothing about data sets or training: `SASRecNet.encode` maps item sequences to hidden
states, `forward` scores the next item at every item position (what the training losses need).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional


class _Block(nn.Module):
    """Causal multi-head self-attention, then a point-wise feed-forward net (the paper's section III-B/C).

    As in the authors' code, the attention query is the layer-normed input and keys/values the raw input,
    each sub-layer adds its (normed) input back, and dropout acts on attention weights and the FFN.
    """

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.attn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.query = nn.Linear(dim, dim)
        self.key_value = nn.Linear(dim, 2 * dim)
        self.out = nn.Linear(dim, dim)
        self.ffn_norm = nn.LayerNorm(dim, eps=1e-8)
        self.ffn = nn.Sequential(
            nn.Linear(dim, dim), nn.Dropout(dropout), nn.ReLU(), nn.Linear(dim, dim), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (b, w, d), mask (b, 1, w, w) bool (True: may attend) -> (b, w, d)."""
        b, w, d = x.shape
        normed = self.attn_norm(x)
        key, value = self.key_value(x).chunk(2, dim=-1)
        q, k, v = (
            t.reshape(b, w, self.heads, d // self.heads).transpose(1, 2) for t in (self.query(normed), key, value)
        )
        dropout = self.dropout if self.training else 0.0
        attended = functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout)
        x = normed + self.out(attended.transpose(1, 2).reshape(b, w, d))
        normed = self.ffn_norm(x)
        return normed + self.ffn(normed)


class SASRecNet(nn.Module):
    """Item (index 0 = padding) and learned position embeddings, `num_blocks` blocks, a final layer norm.

    Inputs are right-aligned item + 1 arrays (b, w) with w <= max_len; column c gets position
    max_len - w + c, so the same history gives the same states however much padding precedes it.
    """

    def __init__(self, n_items: int, dim: int, max_len: int, num_blocks: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.max_len, self.scale = max_len, math.sqrt(dim)
        self.items = nn.Embedding(n_items + 1, dim, padding_idx=0)
        self.positions = nn.Embedding(max_len, dim)
        self.embed_dropout = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(dim, heads, dropout) for _ in range(num_blocks))
        self.norm = nn.LayerNorm(dim, eps=1e-8)
        for name, param in self.named_parameters():  # the authors' Xavier init, biases and norms left as are
            if param.dim() > 1 and "norm" not in name:
                nn.init.xavier_normal_(param)
        with torch.no_grad():
            self.items.weight[0] = 0.0

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        """(b, w) item + 1 -> (b, w) hidden states (b, w, d); position c sees only columns <= c that are items.

        A padding column attends to itself alone, so no attention row is empty (no NaN) and no item
        attends to padding.
        """
        w = inputs.shape[1]
        positions = torch.arange(self.max_len - w, self.max_len, device=inputs.device)
        x = self.embed_dropout(self.items(inputs) * self.scale + self.positions(positions))
        causal = torch.ones(w, w, dtype=torch.bool, device=inputs.device).tril()
        mask = (causal & (inputs > 0)[:, None, :]) | torch.eye(w, dtype=torch.bool, device=inputs.device)
        for block in self.blocks:
            x = block(x, mask[:, None])
        return self.norm(x)

    def forward(self, inputs: torch.Tensor, candidates: torch.Tensor | None = None) -> torch.Tensor:
        """Scores at the item (non-padding) positions of `inputs` (b, w), in row-major order.

        candidates None: (m, n_items) logits over the whole catalog; else candidates (b, w, c) item + 1
        -> (m, c) scores of each position's candidates.
        """
        real = inputs > 0
        hidden = self.encode(inputs)[real]  # (m, d)
        if candidates is None:
            return hidden @ self.items.weight[1:].T
        return torch.einsum("md,mcd->mc", hidden, self.items(candidates[real]))
