"""A small Vision Transformer for 32x32 images, trained from scratch."""

from __future__ import annotations

import torch
from torch import nn

from .parts import Normalize, _dropout, _positive_int
from .registry import register_model

# --- Vision Transformer (Dosovitskiy et al. 2021), small, trained from scratch -----------------------


class _Attention(nn.Module):
    """Multi-head self-attention written out (plain matmuls: exports to ONNX and TorchScript as is)."""

    def __init__(self, dim: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, t, d = x.shape
        q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        attn = (q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5).softmax(-1)
        out = (self.dropout(attn) @ v).transpose(1, 2).reshape(n, t, d)
        return self.proj(out)


class _TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(LN(x)), then x + MLP(LN(x)) with a GELU MLP."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = _Attention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim), nn.Dropout(dropout)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """Patch embedding (a p x p stride-p conv), class token, learned position embedding, pre-norm
    transformer blocks, final LayerNorm, linear head on the class token."""

    def __init__(
        self, num_classes: int, dim: int, depth: int, heads: int, mlp_dim: int, patch_size: int, dropout: float
    ):
        super().__init__()
        self.normalize = Normalize()
        self.patch = nn.Conv2d(3, dim, patch_size, stride=patch_size)
        tokens = (32 // patch_size) ** 2
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.blocks = nn.Sequential(*[_TransformerBlock(dim, heads, mlp_dim, dropout) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        # ViT/DeiT init: truncated normal (std 0.02) for embeddings and linear weights, zero biases.
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(self.normalize(x)).flatten(2).transpose(1, 2)  # (N, tokens, dim)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(x))[:, 0])


# Published: the plain ViT baseline of Lee et al. 2021 ("Vision Transformer for Small-Size Datasets", arXiv
# 2112.13492) is this size (dim 192, depth 9, 12 heads, MLP 384, 4x4 patches; aanna0701/SPT_LSA_ViT's
# create_model.py), trained from scratch; the exact augmentation behind the figure is not in the README (the
# script offers AutoAugment, CutMix, Mixup, random erasing, label smoothing, stochastic depth).
@register_model(
    "vit", family="vit", published="93.58% (Lee et al. 2021, arXiv 2112.13492, same size; aanna0701/SPT_LSA_ViT README)"
)
def vit(
    num_classes: int = 10,
    dim: int = 192,
    depth: int = 9,
    heads: int = 12,
    mlp_dim: int = 384,
    patch_size: int = 4,
    dropout: float = 0.0,
) -> nn.Module:
    """Small ViT for 32x32 (4x4 patches: 64 tokens + class token), dim 192, depth 9, 12 heads, MLP 384."""
    dim, depth, heads = _positive_int("dim", dim), _positive_int("depth", depth), _positive_int("heads", heads)
    mlp_dim, patch_size = _positive_int("mlp_dim", mlp_dim), _positive_int("patch_size", patch_size)
    if dim % heads:
        raise ValueError(f"dim must be a multiple of heads, got dim={dim}, heads={heads}")
    if 32 % patch_size:
        raise ValueError(f"patch_size must divide the 32-pixel image side (1, 2, 4, 8, 16, 32), got {patch_size}")
    return ViT(num_classes, dim, depth, heads, mlp_dim, patch_size, _dropout(dropout))
