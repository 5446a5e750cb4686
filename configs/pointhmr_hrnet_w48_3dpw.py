# Fine-tuning on 3DPW (5 epochs, lr 1e-4) and testing on 3DPW test with
# gendered GT meshes. Start from a pretrained run:
#   --cfg-options load_from=work_dirs/pointhmr_hrnet_w48/best.pth
_base_ = ['./pointhmr_hrnet_w48.py']

max_epochs = 5
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[max_epochs],
         gamma=0.1)
]
train_dataloader = dict(
    dataset=dict(
        ann_file='data/datasets/3dpw/train.yaml', dataset_name='3dpw'))
val_dataloader = dict(
    dataset=dict(
        ann_file='data/datasets/3dpw/test_has_gender.yaml',
        dataset_name='3dpw', eval_protocol='3dpw'))
test_dataloader = val_dataloader
