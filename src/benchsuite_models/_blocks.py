"""Layers shared by the raw-waveform countermeasures (AASIST, AASIST-L, RawGAT-ST, RawNet2).

Written from the papers (Tak et al., Odyssey 2021; Jung et al., ICASSP 2022) and
the facts of the authors' released code that decide weight compatibility; the
module names are ours and each model's ``convert_checkpoint`` maps the released
key names onto them.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn


class ResidualBlock2d(nn.Module):
    """conv(2x3) -> BN -> SELU -> conv(2x3) + shortcut -> max-pool over time by 3.

    The first conv pads the frequency axis by one and the second trims it again,
    so the number of frequency rows is preserved.  Faithful quirks of the
    released models, kept so their weights load and behave identically:

    - non-first blocks own a BatchNorm (``discarded_bn``) that the reference
      applies to the input and then throws away (the first conv reads the raw
      input).  It is in the state dict and the parameter count but cannot change
      the output, so it is not evaluated here (this saves a BN and a SELU pass
      over the block's largest tensor; only its unused running statistics stay
      at their initial values);
    - ``shortcut_conv=False`` with a 1-channel input adds the input to every
      output channel by broadcasting (RawGAT-ST's first block);
    - ``unused_conv``: RawGAT-ST's non-first blocks define a 1 -> C conv that
      the forward pass never uses;
    - ``time_pool=1``: no pooling, as in the AASIST back-end of Tak et al. (2022), whose
      blocks have the max-pool commented out (TakHemlata/SSL_Anti-spoofing ``model.py:428``).

    Fast paths (equal to float32 rounding; ``fast_paths = False`` on the class
    restores the reference's exact operation order): on CPU, convolutions of a
    1-channel input (the first block's) run as one batched GEMM, ~2.5x faster
    than oneDNN forward + backward; in eval mode the BN is folded into the first
    conv and on CPU the block runs channels-last, where oneDNN's convolutions are
    ~1.8x faster (but slower in backward, so training stays NCHW).
    """

    fast_paths = True

    def __init__(self, in_channels: int, out_channels: int, *, first: bool = False,
                 shortcut_conv: bool | None = None, unused_conv: bool = False, time_pool: int = 3) -> None:
        super().__init__()
        self.first = first
        self.time_pool = time_pool
        if not first:
            self.discarded_bn = nn.BatchNorm2d(in_channels)
        self.conv_in = nn.Conv2d(in_channels, out_channels, kernel_size=(2, 3), padding=(1, 1))
        self.bn = nn.BatchNorm2d(out_channels)
        self.conv_out = nn.Conv2d(out_channels, out_channels, kernel_size=(2, 3), padding=(0, 1))
        if shortcut_conv is None:
            shortcut_conv = in_channels != out_channels
        self.shortcut = (nn.Conv2d(in_channels, out_channels, kernel_size=(1, 3), padding=(0, 1))
                         if shortcut_conv else None)
        if unused_conv:
            self.unused_conv = nn.Conv2d(1, out_channels, kernel_size=(2, 3), padding=(1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fast_paths:
            out = self.conv_out(F.selu(self.bn(self.conv_in(x)), inplace=True))
            out += self.shortcut(x) if self.shortcut is not None else x
            return self._pool(out)
        if not self.training:
            return self._forward_eval(x)
        out = self.conv_out(F.selu(self.bn(self._convolve(x, self.conv_in)), inplace=True))
        out += self._convolve(x, self.shortcut) if self.shortcut is not None else x
        return self._pool(out)

    def _pool(self, out: torch.Tensor) -> torch.Tensor:
        return max_pool_last_dim(out, self.time_pool) if self.time_pool > 1 else out

    @staticmethod
    def _convolve(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
        if x.shape[1] == 1 and x.device.type == "cpu":
            return conv2d_one_channel(x, conv.weight, conv.bias, conv.padding)
        return conv(x)

    def _forward_eval(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = fold_batch_norm(self.conv_in, self.bn)
        if x.device.type != "cpu":
            out = self.conv_out(F.selu(F.conv2d(x, weight, bias, padding=self.conv_in.padding), inplace=True))
            out += self.shortcut(x) if self.shortcut is not None else x
            return self._pool(out)
        if x.shape[1] > 1:
            x = x.contiguous(memory_format=torch.channels_last)
        out = F.selu(conv2d_channels_last(x, weight, bias, self.conv_in.padding), inplace=True)
        out = F.conv2d(out, self.conv_out.weight, self.conv_out.bias, padding=self.conv_out.padding)
        if self.shortcut is not None:
            out += conv2d_channels_last(x, self.shortcut.weight, self.shortcut.bias, self.shortcut.padding)
        else:
            out += x
        return max_pool_time_channels_last(out, self.time_pool) if self.time_pool > 1 else out


def _shifted_copies(x: torch.Tensor, kernel: tuple[int, int], padding: tuple[int, int], dim: int) -> torch.Tensor:
    """The kh*kw shifted windows of a 1-channel ``[B, 1, H, W]`` input, stacked along ``dim`` (im2col)."""
    _, _, height, width = x.shape
    (k_h, k_w), (pad_h, pad_w) = kernel, padding
    padded = F.pad(x[:, 0], (pad_w, pad_w, pad_h, pad_h))
    out_h, out_w = height + 2 * pad_h - k_h + 1, width + 2 * pad_w - k_w + 1
    return torch.stack([padded[:, i:i + out_h, j:j + out_w] for i in range(k_h) for j in range(k_w)], dim=dim)


def conv2d_one_channel(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                       padding: tuple[int, int]) -> torch.Tensor:
    """``F.conv2d`` of a 1-channel input as one batched GEMM (NCHW output, differentiable)."""
    out_channels, _, k_h, k_w = weight.shape
    columns = _shifted_copies(x, (k_h, k_w), padding, dim=1)  # [B, kh*kw, H', W']
    batch, taps, out_h, out_w = columns.shape
    out = torch.baddbmm(bias.view(1, -1, 1), weight.view(1, out_channels, taps).expand(batch, -1, -1),
                        columns.view(batch, taps, out_h * out_w))
    return out.view(batch, out_channels, out_h, out_w)


def conv2d_channels_last(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                         padding: tuple[int, int]) -> torch.Tensor:
    """``F.conv2d`` whose output is channels-last.  A 1-channel input (where oneDNN is slow and
    would answer in NCHW) becomes one GEMM of the kh*kw shifted copies with the filters."""
    if x.shape[1] != 1:
        return F.conv2d(x, weight, bias, padding=padding)
    out_channels, _, k_h, k_w = weight.shape
    columns = _shifted_copies(x, (k_h, k_w), padding, dim=-1)  # [B, H', W', kh*kw]
    batch, out_h, out_w, taps = columns.shape
    out = torch.addmm(bias, columns.view(-1, taps), weight.view(out_channels, taps).t())
    return out.view(batch, out_h, out_w, out_channels).permute(0, 3, 1, 2)


def max_pool_time_channels_last(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """``F.max_pool2d(x, (1, kernel))`` for a channels-last ``[B, C, H, W]`` tensor, staying channels-last."""
    batch, channels, height, width = x.shape
    pooled_width = width // kernel
    rows = x.permute(0, 2, 3, 1)[:, :, :pooled_width * kernel]  # [B, H, W, C] view
    # a reduction over the middle axis of contiguous [.., kernel, C] groups vectorises over C
    return rows.reshape(batch, height, pooled_width, kernel, channels).amax(dim=3).permute(0, 3, 1, 2)


def fold_batch_norm(conv: nn.Conv1d | nn.Conv2d, bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``conv`` followed by ``bn`` in eval mode, as one convolution."""
    scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
    weight = conv.weight * scale.view(-1, *([1] * (conv.weight.dim() - 1)))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return weight, (bias - bn.running_mean) * scale + bn.bias


class _LastDimMaxPool(torch.autograd.Function):
    """Non-overlapping max-pooling of the last axis, same values and gradients as
    ``F.max_pool2d(x, (1, k))`` / ``F.max_pool1d(x, k)``.

    PyTorch's CPU pooling with indices is slow (~10 ns per element); pooling a
    flattened view without indices is ~10x faster, and the gradient is routed
    by comparing the input with the saved maxima (first maximum wins on ties,
    as in PyTorch's kernels)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, kernel: int) -> torch.Tensor:  # type: ignore[override]
        pooled = F.max_pool1d(x.reshape(1, -1, x.shape[-1]), kernel).view(*x.shape[:-1], -1)
        ctx.kernel = kernel
        ctx.save_for_backward(x, pooled)
        return pooled

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        x, pooled = ctx.saved_tensors
        kernel, width = ctx.kernel, pooled.shape[-1]
        windows = x[..., :kernel * width].unflatten(-1, (width, kernel))
        taken = windows[..., 0] == pooled
        winners = [taken]
        for offset in range(1, kernel - 1):
            is_max = (windows[..., offset] == pooled) & ~taken
            winners.append(is_max)
            taken = taken | is_max
        if kernel > 1:
            winners.append(~taken)
        # one contiguous write of the whole gradient (strided per-offset writes cost ~30% more)
        grad_x = torch.empty_like(x)
        torch.mul(torch.stack(winners, dim=-1), grad.unsqueeze(-1),
                  out=grad_x[..., :kernel * width].unflatten(-1, (width, kernel)))
        grad_x[..., kernel * width:] = 0
        return grad_x, None


def max_pool_last_dim(x: torch.Tensor, kernel: int) -> torch.Tensor:
    """``F.max_pool2d(x, (1, kernel))`` for 4-D, ``F.max_pool1d(x, kernel)`` for 3-D input, faster on CPU."""
    if x.requires_grad and torch.is_grad_enabled():
        return _LastDimMaxPool.apply(x, kernel)
    return F.max_pool1d(x.reshape(1, -1, x.shape[-1]), kernel).view(*x.shape[:-1], -1)


def max_pool_bands_and_time(bands: torch.Tensor, kernel: int = 3) -> torch.Tensor:
    """``F.max_pool2d(bands.unsqueeze(1), (kernel, kernel))`` for ``[B, filters, T]`` without
    gradient: pool time first (the larger saving), then take the max of each group of bands."""
    rows = bands.shape[1] // kernel
    pooled = max_pool_last_dim(bands[:, :rows * kernel], kernel)
    return pooled.view(bands.shape[0], rows, kernel, -1).amax(dim=2).unsqueeze(1)


def pairwise_products(nodes: torch.Tensor) -> torch.Tensor:
    """``[B, N, D] -> [B, N, N, D]`` with entry ``(i, j) = nodes_i * nodes_j``."""
    return nodes.unsqueeze(2) * nodes.unsqueeze(1)


class GraphAttention(nn.Module):
    """Graph attention over a fully connected graph (AASIST GAT-S/GAT-T, RawGAT-ST layers).

    Edge logit ``(i, j) = v . tanh(W (x_i * x_j) + b) / temperature``, softmax
    over ``j``; output ``= SELU(BN(P_att (A x) + P_self x))`` with BN over every
    node of every example.  Input dropout 0.2 as in the reference code.
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0, input_dropout: float = 0.2) -> None:
        super().__init__()
        self.temperature = temperature
        self.attention_proj = nn.Linear(in_dim, out_dim)
        self.attention_vector = nn.Parameter(torch.empty(out_dim, 1))
        nn.init.xavier_normal_(self.attention_vector)
        self.proj_attended = nn.Linear(in_dim, out_dim)
        self.proj_self = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_dropout = nn.Dropout(input_dropout)

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:
        nodes = self.input_dropout(nodes)
        edge_logits = torch.tanh(self.attention_proj(pairwise_products(nodes))) @ self.attention_vector
        weights = torch.softmax(edge_logits.squeeze(-1) / self.temperature, dim=-1)  # [B, N, N]
        out = self.proj_attended(weights @ nodes) + self.proj_self(nodes)
        return F.selu(batch_norm_nodes(self.bn, out), inplace=True)


def batch_norm_nodes(bn: nn.BatchNorm1d, nodes: torch.Tensor) -> torch.Tensor:
    """BatchNorm1d over ``[B, N, D]`` treating every node as a sample, as the reference does."""
    shape = nodes.shape
    return bn(nodes.reshape(-1, shape[-1])).view(shape)


class GraphPool(nn.Module):
    """Keep the top ``max(int(N * ratio), min_nodes)`` nodes by a learnt sigmoid score,
    each scaled by its score (graph pooling of Gao & Ji, as used by AASIST and RawGAT-ST).
    Nodes come out in descending score order (``torch.topk``), as in the reference."""

    def __init__(self, ratio: float, dim: int, dropout: float = 0.3, min_nodes: int = 1) -> None:
        super().__init__()
        self.ratio = ratio
        self.min_nodes = min_nodes
        self.score_proj = nn.Linear(dim, 1)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def kept_nodes(self, n_nodes: int) -> int:
        return max(int(n_nodes * self.ratio), self.min_nodes)

    def forward(self, nodes: torch.Tensor) -> torch.Tensor:
        scores = torch.sigmoid(self.score_proj(self.dropout(nodes)))  # [B, N, 1]
        _, index = torch.topk(scores, self.kept_nodes(nodes.shape[1]), dim=1)
        return torch.gather(nodes * scores, 1, index.expand(-1, -1, nodes.shape[-1]))


# --------------------------------------------------------------------------- checkpoints


# The reference code bases (AASIST, RawGAT-ST, RawNet2) name a residual block's layers alike.
RESIDUAL_BLOCK_NAMES = {"bn1": "discarded_bn", "conv1": "conv_in", "bn2": "bn", "conv2": "conv_out",
                        "conv_downsample": "shortcut", "conv_1": "unused_conv"}


def residual_block_rule(theirs: str, ours: str) -> tuple[str, Callable[[re.Match], str]]:
    """A rename rule for the reference's ``nn.Sequential``-wrapped residual blocks:
    ``theirs`` is a regex for the key prefix whose one group is the block index
    (RawNet2's ``block<i>`` is ``"block(\\d)"``), ``ours`` a format string taking that index."""
    pattern = rf"^{theirs}\.0\.({'|'.join(RESIDUAL_BLOCK_NAMES)})\.(.*)$"

    def rename(match: re.Match) -> str:
        return f"{ours.format(match.group(1))}.{RESIDUAL_BLOCK_NAMES[match.group(2)]}.{match.group(3)}"

    return pattern, rename


def rename_state_dict(state: Mapping[str, Any], rules: Sequence[tuple[str, str | Callable[[re.Match], str]]],
                      foreign_marker: str) -> dict[str, Any]:
    """Map a released state dict onto our module names.

    ``rules`` are ``(regex, replacement)`` pairs (replacement as for :func:`re.sub`)
    tried in order; the first that matches a key renames it.  A state dict without any key matching
    ``foreign_marker`` is taken to be ours already and returned unchanged (so the
    same function accepts both).  A ``module.`` prefix from DataParallel is dropped.
    """
    state = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    marker = re.compile(foreign_marker)
    if not any(marker.search(key) for key in state):
        return dict(state)
    compiled = [(re.compile(pattern), replacement) for pattern, replacement in rules]
    renamed: dict[str, Any] = {}
    for key, value in state.items():
        for pattern, replacement in compiled:
            new_key, count = pattern.subn(replacement, key)
            if count:
                key = new_key
                break
        renamed[key] = value
    return renamed
