# PointHMR-HR32 with the released recipe, trained on data a user can get
# today: BEDLAM + AGORA from their SMPL labels (bedlam-labels-smpl.zip, the
# set CameraHMR trains on), concatenated as BEDLAM and CameraHMR do (each
# crop once per epoch). Validated on 3DPW test (METRO's protocol, the one
# PointHMR reports); tested on 3DPW test and EMDB-1 (the official EMDB
# protocol). File layout: docs/data_preparation.md, "Data you can get
# today". The schedule is the released one (60 epochs, lr x0.1 at 30); an
# epoch here is every BEDLAM and AGORA crop once. The labels carry no 3D
# joints: the GT meshes supervise the body and, through their LSP-14
# joints, the 3D joint losses; gtkps the 2D joints.
_base_ = ['./pointhmr_hrnet_w32.py']

train_pipeline = {{_base_.train_pipeline}}
val_pipeline = {{_base_.val_pipeline}}
model = dict(mesh_targets=dict(joints_from_mesh=True))

bedlam = dict(
    type='BedlamDataset',
    data_root='data/bedlam',
    # every BEDLAM scene's label file (their names start with the render
    # date); images in images/<scene>/png/
    ann_files=['labels/2022*.npz'],
    data_prefix=dict(img='images'),
    dataset_name='bedlam',
    on_error='skip',
    pipeline=train_pipeline)
agora = dict(
    type='BedlamDataset',
    data_root='data/agora',
    ann_file=dict(ann_file='agora.npz', img_dir='images'),
    dataset_name='agora',
    on_error='skip',
    pipeline=train_pipeline)
pw3d_test = dict(
    type='Pw3dDataset',
    data_root='data/3dpw',
    split='test',
    box='pose2mesh',
    eval_protocol='3dpw',
    dataset_name='3dpw',
    test_mode=True,
    pipeline=val_pipeline)
emdb1 = dict(
    type='EMDBDataset',
    data_root='data/emdb',
    subset='emdb1',
    test_mode=True,
    pipeline=val_pipeline)

train_dataloader = dict(
    dataset=dict(_delete_=True, type='ConcatDataset',
                 datasets=[bedlam, agora]))
val_dataloader = dict(dataset=dict(_delete_=True, **pw3d_test))
# one run prints both protocols' keys (3dpw/..., emdb/...)
test_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_delete_=True, type='ConcatDataset',
                 datasets=[pw3d_test, emdb1]))
