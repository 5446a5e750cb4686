"""Recover 3D human meshes from images, a folder or a video.

    python tools/demo.py CONFIG CKPT INPUT [--out-dir DIR] [--bbox-file F]
        [--device cpu] [--batch-size 16]

Per image it writes ``<name>_overlay.jpg`` (meshes over the image),
``<name>_side.jpg`` (side view), ``<name>_person<k>.obj`` and
``<name>.json`` (vertices and 3D joints in metres, 2D joints in image
pixels, the weak-perspective camera and the box). A video gives
``<name>_overlay.mp4`` and ``<name>.npz`` with the same fields per frame.

Boxes: without ``--bbox-file`` the whole image is one person. The file is
JSON, either ``{"img.jpg": [[x1, y1, x2, y2], ...]}`` or COCO style
(``images`` with ``file_name`` and ``annotations`` with ``bbox`` xywh).
"""
import argparse
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import trimesh
from mmengine.logging import print_log
from tqdm import tqdm

from pointhmr_mm.apis import inference_mesh, init_model
from pointhmr_mm.utils.keypoints import H36M_TO_J14
from pointhmr_mm.visualization import (MeshRenderer, draw_side_view,
                                       weak_perspective_to_screen)

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv')
MESH_RGB = (0.65, 0.74, 0.86)
SIDE_PANEL = 512


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('input', help='image, folder of images, or video')
    parser.add_argument('--out-dir', default='demo_out')
    parser.add_argument('--bbox-file', help='person boxes (JSON)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=16)
    return parser.parse_args()


def load_boxes(path):
    """{image file name: (N, 4) xyxy} from either accepted layout."""
    if path is None:
        return {}
    data = json.loads(Path(path).read_text())
    if isinstance(data, dict) and 'annotations' in data:
        names = {im['id']: Path(im['file_name']).name
                 for im in data.get('images', [])}
        boxes = {}
        for ann in data['annotations']:
            x, y, w, h = ann['bbox'][:4]
            boxes.setdefault(names.get(ann['image_id'], str(ann['image_id'])),
                             []).append([x, y, x + w, y + h])
        return boxes
    if isinstance(data, dict):
        return {Path(k).name: v for k, v in data.items()}
    raise ValueError(f'{path}: expected a dict of boxes per image or a COCO '
                     'file')


def person_outputs(sample, model):
    """Arrays of one person, with 2D joints in original-image pixels."""
    crop = sample.img_shape[0]
    to_image = cv2.invertAffineTransform(np.asarray(sample.crop_matrix))
    verts = sample.pred_vertices.cpu().numpy()
    camera = sample.pred_camera.cpu().numpy()
    joints = sample.pred_keypoints_3d_h36m.cpu().numpy()[list(H36M_TO_J14)]
    joints_2d = weak_perspective_to_screen(joints, camera, crop,
                                           to_image)[:, :2]
    screen = weak_perspective_to_screen(verts, camera, crop, to_image)
    return dict(vertices=verts, keypoints_3d=joints, keypoints_2d=joints_2d,
                camera=camera, bbox=np.asarray(sample.bbox)), screen


def draw(image, screens, faces):
    renderer = MeshRenderer(image.shape[:2])
    if not screens:
        return image.copy()
    return renderer.render(screens, faces, image=image, color=MESH_RGB,
                           alpha=0.8)['image']


def safe_boxes(boxes, shape, name):
    """Drop boxes that miss the image, with a warning."""
    if boxes is None:
        return None
    height, width = shape[:2]
    kept = []
    for box in boxes:
        x0, y0, x1, y1 = box[:4]
        if x1 > x0 and y1 > y0 and x1 > 0 and y1 > 0 and x0 < width and \
                y0 < height:
            kept.append(box[:4])
        else:
            print_log(f'{name}: bbox {list(box)} is outside the {width}x'
                      f'{height} image; skipped', logger='current',
                      level=logging.WARNING)
    return kept


def run_image(model, path, boxes, out_dir, batch_size):
    image = cv2.imread(str(path))
    if image is None:
        raise ValueError(f'{path}: unreadable image')
    boxes = safe_boxes(boxes, image.shape, path.name)
    if boxes is not None and not boxes:
        raise ValueError(f'{path.name}: no usable bbox')
    samples = inference_mesh(model, image, boxes, batch_size=batch_size)
    faces = model.body_model.faces.cpu().numpy()
    people, screens = [], []
    for k, sample in enumerate(samples):
        person, screen = person_outputs(sample, model)
        people.append(person)
        screens.append(screen)
        trimesh.Trimesh(person['vertices'], faces, process=False).export(
            out_dir / f'{path.stem}_person{k}.obj')
    cv2.imwrite(str(out_dir / f'{path.stem}_overlay.jpg'),
                draw(image, screens, faces))
    side = draw_side_view([p['vertices'] for p in people], faces,
                          SIDE_PANEL, [MESH_RGB] * len(people))
    cv2.imwrite(str(out_dir / f'{path.stem}_side.jpg'), side)
    (out_dir / f'{path.stem}.json').write_text(json.dumps(
        dict(image=str(path), people=[
            {k: v.tolist() for k, v in p.items()} for p in people])))


def run_video(model, path, out_dir, batch_size):
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise ValueError(f'{path}: unreadable video')
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    faces = model.body_model.faces.cpu().numpy()
    writer, frames = None, []
    for _ in tqdm(range(total) if total else iter(int, 1), desc=path.name):
        ok, frame = capture.read()
        if not ok:
            break
        sample = inference_mesh(model, frame, None, batch_size)[0]
        person, screen = person_outputs(sample, model)
        frames.append(person)
        if writer is None:
            writer = cv2.VideoWriter(
                str(out_dir / f'{path.stem}_overlay.mp4'),
                cv2.VideoWriter_fourcc(*'mp4v'), fps,
                (frame.shape[1], frame.shape[0]))
        writer.write(draw(frame, [screen], faces))
    if writer is None:
        raise ValueError(f'{path}: no frames')
    writer.release()
    np.savez(out_dir / f'{path.stem}.npz',
             **{k: np.stack([f[k] for f in frames]) for k in frames[0]})


def collect_inputs(source: Path):
    if source.is_dir():
        files = sorted(p for p in source.iterdir()
                       if p.suffix.lower() in IMAGE_EXTS + VIDEO_EXTS)
        if not files:
            raise SystemExit(f'{source}: no images or videos in the folder')
        return files
    if not source.exists():
        raise SystemExit(f'{source}: no such file or folder')
    return [source]


def main():
    args = parse_args()
    inputs = collect_inputs(Path(args.input))
    boxes = load_boxes(args.bbox_file)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = init_model(args.config, args.checkpoint, device=args.device)
    failed = 0
    for path in tqdm(inputs, desc='demo', disable=len(inputs) == 1):
        try:
            if path.suffix.lower() in VIDEO_EXTS:
                run_video(model, path, out_dir, args.batch_size)
            else:
                run_image(model, path, boxes.get(path.name), out_dir,
                          args.batch_size)
        except (ValueError, OSError) as err:
            failed += 1
            print_log(f'skipped {path.name}: {err}', logger='current',
                      level=logging.ERROR)
    print_log(f'{len(inputs) - failed} of {len(inputs)} inputs done; '
              f'outputs in {out_dir}', logger='current')
    if failed == len(inputs):
        raise SystemExit(1)


if __name__ == '__main__':
    main()
