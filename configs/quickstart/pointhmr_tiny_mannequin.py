# Quick start: PointHMR with a small HRNet on the generated mannequin body
# model; everything it needs is made by `python tools/quickstart.py`.
_base_ = ['../_base_/models/pointhmr_hrnet_w32.py']

body_model_dir = 'data/quickstart/body_models'
mannequin_vertices = 2600
mesh_levels = (1723, 431)  # SMPL's hierarchy sizes

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmpretrain.HRNet',
        extra=dict(
            stage1=dict(num_modules=1, num_branches=1, block='BOTTLENECK',
                        num_blocks=(1, ), num_channels=(16, )),
            stage2=dict(num_modules=1, num_branches=2, block='BASIC',
                        num_blocks=(1, 1), num_channels=(16, 32)),
            stage3=dict(num_modules=1, num_branches=3, block='BASIC',
                        num_blocks=(1, 1, 1), num_channels=(16, 32, 64)),
            stage4=dict(num_modules=1, num_branches=4, block='BASIC',
                        num_blocks=(1, 1, 1, 1),
                        num_channels=(16, 32, 64, 128)))),
    neck=dict(in_channels=(16, 128), embed_dims=64, num_heatmap_blocks=1,
              num_target_blocks=1),
    head=dict(
        mesh_sampler=dict(filename=f'{body_model_dir}/mesh_downsampling.npz'),
        in_channels=64, position_dims=32, embed_dims=(96, 96, 64, 64),
        ffn_dims=(128, 128, 128, 128), num_layers=(1, 1, 1, 1)),
    body_model=dict(
        model_path=f'{body_model_dir}/smpl',
        joint_regressors=dict(h36m=f'{body_model_dir}/J_regressor_h36m.npy')))
