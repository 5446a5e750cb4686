# PointHMR as released (PointHMR-HR32): HRNet-W32, taking the 56 px branch
# (32 channels) and the 7 px branch (256 channels).
# The neck reads two of HRNet's four outputs, so the last fuse layers of the
# other two get no gradient (as in the released model): DDP must know.
find_unused_parameters = True
num_joints = 14  # LSP-14
embed_dims = 512
position_dims = 128

# Where the user's files go; see docs/data_preparation.md.
body_model_dir = 'data/body_models'
model = dict(
    type='PointHMR',
    # ImgDataPreprocessor's maths, one host-to-device copy a batch
    data_preprocessor=dict(
        type='MeshDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(type='mmpretrain.HRNet', arch='w32'),
    neck=dict(
        type='PointGuidedSamplingNeck',
        in_channels=(32, 256),
        in_indices=(0, 3),
        embed_dims=embed_dims),
    head=dict(
        type='MaskedMeshTransformerHead',
        num_joints=num_joints,
        in_channels=embed_dims,
        position_dims=position_dims,
        embed_dims=(640, 640, 128, 128),
        ffn_dims=(1024, 1024, 512, 512),
        num_layers=(2, 2, 2, 2),
        final_norms=(False, True, False, True),
        mask_hops=(7, 5, 3, 1),
        num_heads=4,
        dropout=0.1,
        loss_vertex=dict(
            type='VertexL1Loss', level_weights=(0.33, 0.33, 0.33),
            loss_weight=100.),
        loss_joint_3d=dict(type='Keypoint3DMSELoss', loss_weight=1000.),
        loss_joint_2d=dict(type='Keypoint2DMSELoss', loss_weight=100.),
        # 10 (heatmap weight) x 1000 (BCE factor) as released
        loss_heatmap=dict(type='HeatmapBCELoss', loss_weight=10000.),
        loss_dice=dict(type='HeatmapDiceLoss', loss_weight=10.)),
    # Body models, mesh hierarchy and heatmap geometry, declared once: the
    # neck and the head take the vertex count, the grid tokens (crop_size
    # // 32, squared) and the heatmap sizes from here. The recipe configs
    # set crop_size from their data pipeline's crop.
    mesh_targets=dict(
        type='MeshTargets',
        num_vertices=431,  # coarse SMPL mesh
        body_model=dict(
            type='SMPL',
            model_path=f'{body_model_dir}/smpl',
            joint_regressors=dict(
                h36m=f'{body_model_dir}/J_regressor_h36m.npy')),
        mesh_sampler=dict(
            type='MeshSampler',
            filename=f'{body_model_dir}/mesh_downsampling.npz'),
        mesh_regressor='h36m',
        gendered_eval=True,
        # 56 px heatmaps (HRNet's 1/4 branch); targets placed at 112 px
        heatmap_stride=4,
        heatmap_upscale=2))
