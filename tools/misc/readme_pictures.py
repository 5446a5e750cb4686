"""Remake the README's demo pictures from a quick-start checkpoint.

    python tools/misc/readme_pictures.py CONFIG CKPT [--data DIR]
        [--indices 0 1 2] [--out-dir docs] [--height 256]

Runs ``tools/demo.py`` on scikit-image's astronaut photograph and on
held-out synthetic images (their boxes from the split's ``bbox_xywh``),
then writes ``OUT/demo_astronaut.jpg`` and ``OUT/demo_synthetic.jpg``:
per image its input, the mesh overlay and the side view in one row. Run
it again whenever the quick-start data or recipe change.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--data', default='data/quickstart/synthetic',
                        help='folder with val.npz and its images')
    parser.add_argument('--indices', type=int, nargs='+', default=[0, 1, 2],
                        help='held-out samples to show')
    parser.add_argument('--out-dir', default='docs')
    parser.add_argument('--height', type=int, default=256,
                        help='height of the astronaut row (the synthetic '
                        'row is three quarters of it)')
    return parser.parse_args(argv)


def demo(args, inputs: Path, out_dir: Path, bbox_file=None) -> None:
    cmd = [sys.executable, str(ROOT / 'tools' / 'demo.py'), args.config,
           args.checkpoint, str(inputs), '--out-dir', str(out_dir)]
    if bbox_file is not None:
        cmd += ['--bbox-file', str(bbox_file), '--bbox-format', 'xywh']
    subprocess.run(cmd, check=True)


def row(images, height: int) -> np.ndarray:
    """Images side by side, each scaled to ``height``."""
    return np.concatenate([
        cv2.resize(im, (round(im.shape[1] * height / im.shape[0]), height),
                   interpolation=cv2.INTER_AREA) for im in images], axis=1)


def panels(image: Path, results: Path):
    stem = image.stem
    found = [image, results / f'{stem}_overlay.jpg',
             results / f'{stem}_side.jpg']
    for path in found:
        if not path.exists():
            raise FileNotFoundError(f'demo output missing: {path}')
    return [cv2.imread(str(path)) for path in found]


def main(argv=None) -> int:
    args = parse_args(argv)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = Path(args.data)
    split = np.load(data / 'val.npz', allow_pickle=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        import skimage.data
        photo_dir = tmp / 'photo'
        photo_dir.mkdir()
        photo = photo_dir / 'astronaut.jpg'
        cv2.imwrite(str(photo), skimage.data.astronaut()[..., ::-1])
        demo(args, photo, tmp / 'photo_out')
        cv2.imwrite(str(out_dir / 'demo_astronaut.jpg'),
                    row(panels(photo, tmp / 'photo_out'), args.height))

        held_out = tmp / 'held_out'
        held_out.mkdir()
        boxes = {}
        for index in args.indices:
            if not 0 <= index < len(split['image_path']):
                raise ValueError(f'--indices: {index} is outside '
                                 f'{data / "val.npz"} '
                                 f'({len(split["image_path"])} samples)')
            source = data / str(split['image_path'][index])
            link = held_out / source.name
            link.symlink_to(source.resolve())
            boxes[source.name] = [split['bbox_xywh'][index][:4].tolist()]
        bbox_file = tmp / 'boxes.json'
        bbox_file.write_text(json.dumps(boxes))
        demo(args, held_out, tmp / 'held_out_out', bbox_file)
        height = args.height * 3 // 4
        strips = [row(panels(held_out / name, tmp / 'held_out_out'), height)
                  for name in boxes]
        cv2.imwrite(str(out_dir / 'demo_synthetic.jpg'),
                    np.concatenate(strips, axis=1))
    print(f'wrote {out_dir / "demo_astronaut.jpg"} and '
          f'{out_dir / "demo_synthetic.jpg"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
