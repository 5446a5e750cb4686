# Fine-tuning on 3DPW (METRO's TSVs) with the released fine-tuning schedule
# (scripts/finetuning.sh): 5 epochs, lr 1e-4, x0.1 from epoch 3 (the
# released adjust_learning_rate: lr * 0.1 ** (epoch // (5 / 2))); tested
# on 3DPW test with METRO's protocol (neutral GT mesh). The W32 recipe on
# the original 3DPW files is configs/pointhmr_hrnet_w32_3dpw_ft.py.
# Start from a pretrained run:
#   --cfg-options load_from=work_dirs/pointhmr_hrnet_w48/best.pth
_base_ = ['./pointhmr_hrnet_w48.py']

max_epochs = 5
base_lr = 1e-4
optim_wrapper = dict(optimizer=dict(lr=base_lr))
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[3], gamma=0.1)
]
train_dataloader = dict(
    dataset=dict(
        ann_file='data/datasets/3dpw/train.yaml', dataset_name='3dpw'))
val_dataloader = dict(
    dataset=dict(
        ann_file='data/datasets/3dpw/test_has_gender.yaml',
        dataset_name='3dpw', eval_protocol='3dpw'))
test_dataloader = val_dataloader
