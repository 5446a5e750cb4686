"""Remake the README's demo pictures from a quick-start checkpoint.

    python tools/misc/readme_pictures.py CONFIG CKPT [--data DIR]
        [--indices 0 1 2] [--out-dir docs] [--height 256]

Runs the demo's ``MeshInferencer`` (one model load) on scikit-image's
astronaut photograph and on held-out synthetic images (their boxes from
the split's ``bbox_xywh``), then writes ``OUT/demo_astronaut.jpg`` and ``OUT/demo_synthetic.jpg``:
per image its input, the mesh overlay and the side view in one row. Run
it again whenever the quick-start data or recipe change.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np


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
    data = Path(args.data)
    # plain arrays of the HumanData file; its object entries are not read
    split = np.load(data / 'val.npz')
    names, boxes = split['image_path'], split['bbox_xywh']
    for index in args.indices:
        if not 0 <= index < len(names):
            raise ValueError(f'--indices: {index} is outside '
                             f'{data / "val.npz"} ({len(names)} samples)')
    from pointhmr_mm.apis import MeshInferencer
    inferencer = MeshInferencer(args.config, args.checkpoint)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        import skimage.data
        photo = tmp / 'astronaut.jpg'
        cv2.imwrite(str(photo), skimage.data.astronaut()[..., ::-1])
        list(inferencer(str(photo), vis_out_dir=str(tmp)))
        cv2.imwrite(str(out_dir / 'demo_astronaut.jpg'),
                    row(panels(photo, tmp), args.height))

        images = [data / str(names[i]) for i in args.indices]
        # xywh (+ score) -> xyxy, one person per image
        xyxy = {image.name: [[x, y, x + w, y + h]]
                for image, (x, y, w, h) in zip(
                    images, boxes[args.indices, :4].tolist())}
        list(inferencer([str(image) for image in images], bboxes=xyxy,
                        vis_out_dir=str(tmp)))
        height = args.height * 3 // 4
        cv2.imwrite(str(out_dir / 'demo_synthetic.jpg'), np.concatenate(
            [row(panels(image, tmp), height) for image in images], axis=1))
    print(f'wrote {out_dir / "demo_astronaut.jpg"} and '
          f'{out_dir / "demo_synthetic.jpg"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
