# PointHMR-HR32 evaluated on 3DPW test as MMHuman3D prepares it: the
# HumanData file data/preprocessed_datasets/pw3d_test.npz, whose image_path
# entries are relative to data/datasets/pw3d/ (MMHuman3D's data layout).
# For the released 3DPW checkpoint; see README "Use the released PointHMR
# model".
_base_ = ['./pointhmr_hrnet_w32.py']

humandata_root = 'data'
pw3d_test = dict(
    type='HumanDataDataset',
    ann_file=f'{humandata_root}/preprocessed_datasets/pw3d_test.npz',
    data_prefix=dict(img=f'{humandata_root}/datasets/pw3d'),
    dataset_name='pw3d',
    eval_protocol='3dpw')
val_dataloader = dict(dataset=pw3d_test)
test_dataloader = dict(dataset=pw3d_test)
