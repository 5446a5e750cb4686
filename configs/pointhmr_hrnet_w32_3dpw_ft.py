# PointHMR-HR32 fine-tuned on 3DPW as released (scripts/finetuning.sh of
# PointHMR_release): the original 3DPW train split (data/3dpw, read from
# its sequence files), 5 epochs, Adam lr 1e-4, x0.1 from epoch 3 (the
# released adjust_learning_rate: lr * 0.1 ** (epoch // (5 / 2))), batch
# 2 GPUs x 12; validated and tested on 3DPW test with METRO's protocol
# (neutral GT mesh, 14 joints of the H36M regressor), the one behind
# PointHMR's 73.9 / 44.9 / 85.5. Crops are Pose2Mesh's boxes, as in
# METRO's 3DPW TSVs. Start from the pre-trained model, as the released
# script does with --resume_checkpoint ./checkpoint_h36m.bin:
#   python tools/train.py configs/pointhmr_hrnet_w32_3dpw_ft.py \
#       --cfg-options load_from=work_dirs/pointhmr_hrnet_w32/best.pth
# SPIN's protocol (gendered GT): --cfg-options
#   test_dataloader.dataset.eval_protocol=3dpw_gendered
_base_ = ['./pointhmr_hrnet_w32.py']

pw3d_root = 'data/3dpw'
train_pipeline = {{_base_.train_pipeline}}
val_pipeline = {{_base_.val_pipeline}}
# The sequence files carry no 3D joints: take the GT mesh's (METRO's 3DPW
# TSVs carry joints of the SMPL fits).
model = dict(mesh_targets=dict(joints_from_mesh=True))

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='Pw3dDataset',
        data_root=pw3d_root,
        split='train',
        box='pose2mesh',
        on_error='skip',
        pipeline=train_pipeline))
pw3d_test = dict(
    type='Pw3dDataset',
    data_root=pw3d_root,
    split='test',
    box='pose2mesh',
    eval_protocol='3dpw',
    test_mode=True,
    pipeline=val_pipeline)
val_dataloader = dict(dataset=dict(_delete_=True, **pw3d_test))
test_dataloader = val_dataloader

max_epochs = 5
base_lr = 1e-4
optim_wrapper = dict(optimizer=dict(lr=base_lr))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[3], gamma=0.1)
]
train_cfg = dict(max_epochs=max_epochs)
