# METRO's mixed training set (Human3.6M, COCO, MuCo-3DHP, UP-3D, MPII) in
# its TSV layout, validated on Human3.6M protocol 2. See docs/data_preparation.md.
data_root = 'data/datasets'
crop_size = 224

train_pipeline = [
    dict(type='LoadMeshImage'),
    dict(type='MeshRandomAugParams'),
    dict(type='MeshAffineCrop', crop_size=crop_size),
    dict(type='MeshRandomFlip'),
    dict(type='MeshPixelNoise'),
    dict(type='PackMeshInputs'),
]
val_pipeline = [
    dict(type='LoadMeshImage'),
    dict(type='MeshRandomAugParams', test_mode=True),
    dict(type='MeshAffineCrop', crop_size=crop_size),
    dict(type='PackMeshInputs'),
]
train_dataloader = dict(
    batch_size=12,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='MetroTSVDataset',
        ann_file=f'{data_root}/Tax-H36m-coco40k-Muco-UP-Mpii/train.yaml',
        dataset_name='metro_mix',
        on_error='skip',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MetroTSVDataset',
        ann_file=f'{data_root}/human3.6m/valid.protocol2.yaml',
        dataset_name='h36m',
        eval_protocol='h36m_p2',
        test_mode=True,
        pipeline=val_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='MeshMetric')
test_evaluator = val_evaluator
