"""tools/misc (browse_dataset, print_config, publish_model,
readme_pictures) and the FLOP
count of tools/analysis (get_flops, benchmark_model)."""
import hashlib

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import HistoryBuffer

from pointhmr_mm.setup_env import register_all_modules

from toolbox import load_tool, run_tool
from toolbox.tiny_run import CROP

browse_dataset = load_tool('misc/browse_dataset')
get_flops = load_tool('analysis/get_flops')
print_config = load_tool('misc/print_config')
publish_model = load_tool('misc/publish_model')
readme_pictures = load_tool('misc/readme_pictures')

register_all_modules()


def test_browse_dataset_draws_keypoints_and_gt_mesh(tiny_run, tmp_path):
    config, _, _ = tiny_run
    out = tmp_path / 'browse'
    browse_dataset.main([str(config), '--phase', 'train', '--output-dir',
                         str(out), '--not-show', '--max-samples', '2'])
    files = sorted(out.glob('*.jpg'))
    assert [f.name[:5] for f in files] == ['00000', '00001']
    picture = cv2.imread(str(files[0]))
    side = browse_dataset.MIN_PANEL
    assert picture.shape == (side, 3 * side, 3)
    points, mesh = picture[:, :side], picture[:, side:2 * side]
    # the GT mesh covers part of the crop
    changed = np.abs(points.astype(int) - mesh).sum(-1) > 60
    assert 0.02 < changed.mean() < 0.9


def test_fitted_camera_puts_gt_joints_on_the_keypoints(tiny_run):
    config, _, _ = tiny_run
    from pointhmr_mm.registry import DATASETS, MODELS
    cfg = Config.fromfile(str(config))
    item = DATASETS.build(cfg.train_dataloader.dataset)[0]
    model = MODELS.build(cfg.model).eval()
    sample = item['data_samples']
    with torch.no_grad():
        levels, _ = model.mesh_targets.gt_meshes(sample.gt_pose[None],
                                                 sample.gt_betas[None],
                                                 [sample.gender])
        joints = model.mesh_targets.regress_j14(levels[-1])[0].numpy()
    keypoints = sample.gt_keypoints_2d.numpy()
    cam = browse_dataset.fit_weak_perspective(joints, keypoints)
    projected = cam[0] * (joints[:, :2] + cam[1:])
    labelled = keypoints[:, 2] > 0
    error = np.abs(projected - keypoints[:, :2])[labelled].mean()
    assert error < 0.03  # of the half-crop: the labels match the mesh
    assert browse_dataset.fit_weak_perspective(
        joints, np.zeros((14, 3))) is None


def test_browse_dataset_needs_somewhere_to_draw(tiny_run, capsys):
    config, _, _ = tiny_run
    with pytest.raises(SystemExit):
        browse_dataset.parse_args([str(config), '--not-show'])
    assert 'no --output-dir' in capsys.readouterr().err


def test_print_config(tiny_run, capsys):
    config, _, _ = tiny_run
    print_config.main([str(config), '--cfg-options',
                       'train_cfg.max_epochs=7'])
    text = capsys.readouterr().out
    assert 'max_epochs=7' in text and "type='PointHMR'" in text
    with pytest.raises(SystemExit, match='train_cfg.max_epochs is int'):
        print_config.main([str(config), '--cfg-options',
                           'train_cfg.max_epochs.x=7'])


@pytest.fixture
def training_checkpoint(tiny_run, tmp_path):
    """The tiny checkpoint as a training run saves it: optimizer, message
    hub, schedulers, RNG states in meta."""
    _, ckpt, _ = tiny_run
    state = torch.load(ckpt, weights_only=True)['state_dict']
    buffer = HistoryBuffer()
    buffer.update(1.)
    full = dict(
        meta=dict(epoch=1, iter=2, rng_states=[dict(torch=torch.ones(
            5000, dtype=torch.uint8))]),
        state_dict=state,
        optimizer=dict(state={0: dict(exp_avg=torch.ones(200_000))},
                       param_groups=[dict(lr=1e-3)]),
        message_hub=dict(log_scalars={'train/loss': buffer}),
        param_schedulers=[dict(milestones=[2])])
    path = tmp_path / 'epoch_1.pth'
    torch.save(full, path)
    return path


def test_publish_model_slims_and_hashes(training_checkpoint, tiny_run,
                                        tmp_path):
    before = training_checkpoint.read_bytes()
    final = publish_model.publish(str(training_checkpoint),
                                  str(tmp_path / 'tiny_pub.pth'))
    assert training_checkpoint.read_bytes() == before  # input untouched
    digest = hashlib.sha256(open(final, 'rb').read()).hexdigest()
    assert final == str(tmp_path / f'tiny_pub-{digest[:8]}.pth')
    published = torch.load(final, weights_only=True)
    assert sorted(published) == ['meta', 'state_dict']
    assert published['meta'] == dict(epoch=1, iter=2)
    # the 0.8 MB optimizer state is gone
    assert len(before) - len(open(final, 'rb').read()) > 750_000
    from pointhmr_mm.apis import init_model
    config, _, _ = tiny_run
    model = init_model(str(config), final)
    torch.testing.assert_close(model.state_dict(),
                               published['state_dict'])
    with pytest.raises(FileExistsError, match='not overwritten'):
        publish_model.publish(str(training_checkpoint),
                              str(tmp_path / 'tiny_pub.pth'))
    # publishing the published file under its own name would replace it
    with pytest.raises(FileExistsError):
        publish_model.publish(final, final[:-len('-12345678.pth')] + '.pth')
    assert not list(tmp_path.glob('*.publishing.pth'))


def test_publish_model_refuses_non_checkpoints(tmp_path):
    bad = tmp_path / 'notes.pth'
    bad.write_text('not a checkpoint')
    with pytest.raises(SystemExit, match='not a PyTorch checkpoint'):
        publish_model.main([str(bad), str(tmp_path / 'out.pth')])


def test_get_flops_reads_the_crop_from_the_config(tiny_run):
    config, _, _ = tiny_run
    cfg = get_flops.load_config(str(config))
    model = get_flops.build_measured_model(cfg, None)
    result = get_flops.measure(model, cfg)
    assert result['size'] == CROP
    parts = result['flops_by_part']
    assert all(parts[p] > 0 for p in get_flops.PARTS)
    assert sum(parts.values()) <= result['flops']
    assert result['params'] == sum(p.numel() for p in model.parameters())
    with pytest.raises(SystemExit, match=f'its crop is {CROP} px'):
        get_flops.measure(model, cfg, 224)


@pytest.mark.slow
def test_benchmark_model_runs_at_the_configs_size(tiny_run):
    config, _, _ = tiny_run
    result = run_tool('analysis/benchmark_model', config, '--iters', '1')
    assert result.returncode == 0, result.stderr[-2000:]
    assert f'(1, 3, {CROP}, {CROP})' in result.stdout
    assert 'GFLOPs' in result.stdout and 'ms/image' in result.stdout


def test_readme_pictures_rows_of_input_overlay_and_side(tiny_run, tmp_path):
    config, ckpt, data = tiny_run
    out = tmp_path / 'docs'
    assert readme_pictures.main([str(config), str(ckpt), '--data', str(data),
                                 '--indices', '0', '2', '--height', '64',
                                 '--out-dir', str(out)]) == 0
    photo = cv2.imread(str(out / 'demo_astronaut.jpg'))
    held_out = cv2.imread(str(out / 'demo_synthetic.jpg'))
    # astronaut: three square 512 px panels at 64 px; held out: two samples
    # of three square panels at 48 px
    assert photo.shape == (64, 3 * 64, 3)
    assert held_out.shape == (48, 2 * 3 * 48, 3)
    # the overlay differs from the input: a mesh was drawn
    assert np.abs(photo[:, 64:128].astype(int) - photo[:, :64]).mean() > 1
    with pytest.raises(ValueError, match='--indices: 99'):
        readme_pictures.main([str(config), str(ckpt), '--data', str(data),
                              '--indices', '99', '--out-dir', str(out)])
