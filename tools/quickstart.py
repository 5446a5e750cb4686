"""Quick start on the project's own generated assets (no licence needed).

    python tools/quickstart.py [--steps 30]

1. Generates the mannequin body model and its 2600 -> 1723 -> 431 mesh
   hierarchy under data/quickstart/body_models (once).
2. Builds PointHMR from configs/quickstart/pointhmr_tiny_mannequin.py.
3. Runs an end-to-end optimisation on one fixed batch of posed mannequins
   (GT meshes from the body model, images held fixed) and reports the
   losses falling, then predicts meshes and writes one as an .obj file.

Until the dataset pipeline lands this is the project's smaller end-to-end
run; it checks the whole chain body model -> targets -> losses -> backward.
"""
import argparse
from pathlib import Path

import torch
import trimesh
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from mmengine.structures import BaseDataElement
from tqdm import tqdm

from pointhmr_mm.models.body_models import SMPL
from pointhmr_mm.models.body_models.mannequin import make_mannequin_files
from pointhmr_mm.models.utils import build_mesh_sampler
from pointhmr_mm.registry import MODELS
from pointhmr_mm.utils import register_all_modules
from pointhmr_mm.utils.geometry import weak_perspective_projection
from pointhmr_mm.utils.keypoints import H36M_TO_J14

CONFIG = 'configs/quickstart/pointhmr_tiny_mannequin.py'
IMAGE_SIZE = 224


def prepare_assets(cfg) -> Path:
    out = Path(cfg.body_model_dir)
    if not (out / 'smpl' / 'SMPL_NEUTRAL.pkl').exists():
        print_log(f'generating the mannequin in {out}', logger='current')
        make_mannequin_files(out, num_vertices=cfg.mannequin_vertices)
    sampler_file = out / 'mesh_downsampling.npz'
    if not sampler_file.exists():
        print_log('building the mesh hierarchy', logger='current')
        body = SMPL(str(out / 'smpl'))
        build_mesh_sampler(body.v_template.numpy(), body.faces.numpy(),
                           cfg.mesh_levels).save(str(sampler_file))
    return out


def make_batch(model, batch, seed=0):
    """Posed mannequins with GT joints; images are fixed noise."""
    g = torch.Generator().manual_seed(seed)
    pose = torch.randn(batch, 72, generator=g) * 0.25
    betas = torch.randn(batch, 10, generator=g)
    levels, h36m = model.gt_meshes(pose, betas)
    joints = h36m[:, list(H36M_TO_J14)]
    camera = torch.tensor([[0.8, 0., 0.]]).expand(batch, -1)
    joints_2d = weak_perspective_projection(joints, camera)
    inputs = [torch.randint(0, 255, (3, IMAGE_SIZE, IMAGE_SIZE), generator=g,
                            dtype=torch.uint8) for _ in range(batch)]
    samples = []
    for i in range(batch):
        s = BaseDataElement(metainfo=dict(gender='neutral'))
        s.set_data(dict(
            gt_pose=pose[i], gt_betas=betas[i], has_smpl=torch.tensor(1.),
            gt_keypoints_3d=torch.cat([joints[i], torch.ones(14, 1)], 1),
            gt_keypoints_2d=torch.cat([joints_2d[i], torch.ones(14, 1)], 1)))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--steps', type=int, default=30)
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--out-dir', default='work_dirs/quickstart')
    args = parser.parse_args()
    register_all_modules()
    torch.manual_seed(88)
    cfg = Config.fromfile(CONFIG)
    prepare_assets(cfg)
    model = MODELS.build(cfg.model)
    print_log(f'PointHMR with {sum(p.numel() for p in model.parameters())/1e6:.2f}'
              'M parameters', logger='current')
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-4))
    data = make_batch(model, args.batch_size)
    first = last = None
    model.train()
    for _ in tqdm(range(args.steps), desc='optimising'):
        losses = model(**model.data_preprocessor(data, True), mode='loss')
        total = sum(losses.values())
        optim.update_params(total)
        first = first if first is not None else total.item()
        last = total.item()
    print_log(f'total loss {first:.2f} -> {last:.2f} after {args.steps} '
              'steps', logger='current')
    model.eval()
    with torch.no_grad():
        pred = model(**model.data_preprocessor(data, False), mode='predict')
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    mesh = trimesh.Trimesh(pred[0].pred_vertices.numpy(),
                           model.body_model.faces.numpy(), process=False)
    mesh.export(out / 'prediction_0.obj')
    print_log(f'wrote {out / "prediction_0.obj"}', logger='current')


if __name__ == '__main__':
    main()
