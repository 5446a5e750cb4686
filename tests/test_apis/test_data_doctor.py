"""DataDoctor: every problem of a config's files, in one report."""
from mmengine.config import Config

from toolbox.tiny_model import tiny_model_cfg
from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.apis.data_doctor import DataDoctor, iter_config_paths

from toolbox.datasets import PIPELINE, write_human_data_split


def test_paths_follow_the_dataset_data_root():
    cfg = dict(
        data_root='ignored/top-level/variable',
        model=dict(type='X', body_model=dict(
            model_path='bm/smpl', joint_regressors=dict(h36m='bm/J.npy'))),
        train_dataloader=dict(dataset=dict(
            type='D', data_root='root', ann_file='a.npz',
            data_prefix=dict(img='imgs'),
            init_cfg=dict(type='Pretrained', checkpoint='/abs/w.pth'))))
    assert dict(iter_config_paths(cfg)) == {
        'model.body_model.model_path': 'bm/smpl',
        'model.body_model.joint_regressors.h36m': 'bm/J.npy',
        'train_dataloader.dataset.ann_file': 'root/a.npz',
        'train_dataloader.dataset.data_prefix.img': 'root/imgs',
        'train_dataloader.dataset.init_cfg.checkpoint': '/abs/w.pth'}


def doctor_config(tmp_path, body_model_dir, mesh_sampler_file, num_vertices):
    npz, img_dir = write_human_data_split(tmp_path / 'split', count=4)
    dataset = dict(type='HumanDataDataset', ann_file=str(npz),
                   data_prefix=dict(img=str(img_dir)), pipeline=PIPELINE,
                   on_error='skip', max_refetch=2)
    return Config(dict(
        default_scope='pointhmr_mm',
        model=tiny_model_cfg(body_model_dir, mesh_sampler_file, num_vertices),
        train_dataloader=dict(dataset=dataset),
        val_dataloader=dict(dataset=dict(dataset, on_error='raise',
                                         test_mode=True)))), img_dir


def test_good_setup_has_no_problem(tmp_path, body_model_dir,
                                   mesh_sampler_file):
    register_all_modules()
    cfg, _ = doctor_config(tmp_path, body_model_dir, mesh_sampler_file, 150)
    lines = []
    assert DataDoctor(cfg, num_samples=4, log=lines.append).run() == []
    assert any('train dataset' in line and '4 read' in line
               for line in lines)


def test_every_problem_is_reported(tmp_path, body_model_dir,
                                   mesh_sampler_file):
    register_all_modules()
    # the vertex count disagrees with the sampler; a missing regressor; a
    # broken image that on_error='skip' would have hidden during training
    cfg, img_dir = doctor_config(tmp_path, body_model_dir, mesh_sampler_file,
                                 151)
    cfg.model.mesh_targets.body_model.joint_regressors['extra'] = str(
        tmp_path / 'no.npy')
    broken = sorted(img_dir.rglob('*.jpg'))[-1]
    broken.write_bytes(b'not a jpeg')
    problems = DataDoctor(cfg, num_samples=4, log=lambda _: None).run()
    text = '\n'.join(map(str, problems))
    assert '[model.mesh_targets.body_model.joint_regressors.extra]' in text
    assert f'{tmp_path / "no.npy"}: missing' in text
    # a user without SMPL is pointed at the licence-free body
    assert 'tools/make_body_model.py --from embedded' in text
    # the regressor is missing, so the model is not built: the sampler
    # check alone names the mismatch
    assert 'model.mesh_targets.num_vertices is 151' in text
    assert '[train_dataloader.dataset[3]]' in text
    assert '[val_dataloader.dataset[3]]' in text
    assert len(problems) == 4, text
