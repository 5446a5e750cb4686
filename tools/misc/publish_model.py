"""Make a checkpoint fit to share, as OpenMMLab's publish_model does.

    python tools/misc/publish_model.py work_dirs/x/epoch_4.pth pointhmr_x.pth
    # -> pointhmr_x-<first 8 hex digits of its sha256>.pth

Drops what only resuming needs: the optimizer state, the parameter
schedulers, the message hub (logged history) and, from ``meta``, the
per-rank RNG states (``PointHMRRunner``); keeps ``state_dict`` and the
rest of ``meta`` (config, epoch, versions). The file is written atomically;
an existing file, the input included, is never overwritten.
"""
import argparse
import hashlib
import os
import os.path as osp

import torch

from pointhmr_mm.apis.inference import load_checkpoint_file
from pointhmr_mm.engine.runner import RNG_META_KEY
from pointhmr_mm.utils.atomic_io import write_atomically

RESUME_ONLY_KEYS = ('optimizer', 'param_schedulers', 'message_hub')
HASH_DIGITS = 8
CHUNK = 1 << 20


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(CHUNK), b''):
            digest.update(block)
    return digest.hexdigest()


def slim(checkpoint: dict) -> dict:
    """A copy of ``checkpoint`` without what only resuming needs."""
    if 'state_dict' not in checkpoint:
        raise ValueError(f'checkpoint has no state_dict (keys: '
                         f'{sorted(checkpoint)})')
    out = {k: v for k, v in checkpoint.items() if k not in RESUME_ONLY_KEYS}
    if isinstance(out.get('meta'), dict):
        out['meta'] = {k: v for k, v in out['meta'].items()
                       if k != RNG_META_KEY}
    return out


def publish(in_file: str, out_file: str) -> str:
    """Write the slim copy of ``in_file`` as ``<out_file stem>-<sha256
    prefix>.pth`` and return that path.

    Raises:
        ValueError: ``in_file`` is not a checkpoint with a state_dict.
        FileExistsError: The final file exists (never overwritten).
    """
    checkpoint = slim(load_checkpoint_file(in_file))
    stem = out_file[:-len('.pth')] if out_file.endswith('.pth') else out_file
    tmp = stem + '.publishing.pth'
    if osp.exists(tmp):
        raise FileExistsError(f'{tmp} exists (left by a failed run?); '
                              'remove it first')
    write_atomically(tmp, lambda path: torch.save(checkpoint, path))
    final = f'{stem}-{sha256_of(tmp)[:HASH_DIGITS]}.pth'
    if osp.exists(final):
        os.remove(tmp)
        raise FileExistsError(f'{final} exists; not overwritten')
    os.replace(tmp, final)
    return final


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('in_file', help='checkpoint to publish')
    parser.add_argument('out_file', help='name of the published file; the '
                        'hash is added before .pth')
    args = parser.parse_args(argv)
    try:
        final = publish(args.in_file, args.out_file)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        raise SystemExit(f'error: {err}') from None
    before, after = osp.getsize(args.in_file), osp.getsize(final)
    print(f'{final}: {after / 2**20:.1f} MiB (from {before / 2**20:.1f} MiB)')


if __name__ == '__main__':
    main()
