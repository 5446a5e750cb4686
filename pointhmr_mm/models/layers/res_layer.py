"""Residual decoders made of BasicBlocks, as PointHMR's neck uses them."""
from typing import Optional

from mmcv.cnn import build_norm_layer
from mmpretrain.models.backbones.resnet import BasicBlock
from torch import nn

from .pixel_mix import ChannelsFirstConv1x1


def make_basic_decoder(in_channels: int, out_channels: int, num_blocks: int,
                       norm_cfg: dict = dict(type='BN'),
                       with_cp: bool = False,
                       hidden_channels: Optional[int] = None,
                       channels_first_output: bool = False
                       ) -> nn.Sequential:
    """``num_blocks`` BasicBlocks from ``in_channels`` to
    ``hidden_channels``, then a bias-free 1x1 conv to ``out_channels``.

    The first block gets a 1x1 conv + norm shortcut when the channels change.
    Module names (``0.conv1``, ``0.bn1``, ``0.downsample.0``, ...,
    ``{num_blocks}.weight``) match the released PointHMR decoders.

    Args:
        in_channels: Input channels.
        out_channels: Output channels of the 1x1 conv.
        num_blocks: Number of BasicBlocks (>= 1).
        norm_cfg: Normalisation layer config, e.g. ``dict(type='SyncBN')``.
        with_cp: Activation checkpointing inside every block (mmpretrain's
            ``BasicBlock(with_cp=True)``): its activations are recomputed
            in backward instead of kept.
        hidden_channels: Width of the blocks; None: ``out_channels`` (as
            released). A narrower width with the 1x1 conv widening to
            ``out_channels`` is PointHMR-Lite's decoder.
        channels_first_output: Make the 1x1 conv a
            :class:`ChannelsFirstConv1x1`, whose output is NCHW-contiguous
            also when the decoder runs channels-last (for a per-map
            softmax over pixels after it). Same parameters either way.

    Returns:
        nn.Sequential: (B, in_channels, H, W) -> (B, out_channels, H, W).
    """
    if num_blocks < 1:
        raise ValueError(f'num_blocks must be >= 1, got {num_blocks}')
    final_channels = out_channels
    out_channels = hidden_channels or out_channels
    downsample = None
    if in_channels != out_channels:
        downsample = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            build_norm_layer(norm_cfg, out_channels)[1])
    layers = [
        BasicBlock(in_channels, out_channels, downsample=downsample,
                   norm_cfg=norm_cfg, with_cp=with_cp)
    ]
    layers += [
        BasicBlock(out_channels, out_channels, norm_cfg=norm_cfg,
                   with_cp=with_cp)
        for _ in range(num_blocks - 1)
    ]
    if channels_first_output:
        layers.append(ChannelsFirstConv1x1(out_channels, final_channels))
    else:
        layers.append(
            nn.Conv2d(out_channels, final_channels, 1, bias=False))
    return nn.Sequential(*layers)
