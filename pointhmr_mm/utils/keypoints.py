"""Joint orders and the index maps between them (facts from METRO,
FastMETRO and MMHuman3D)."""

# LSP-14: what the losses and Human3.6M protocol 2 use.
LSP14_NAMES = ('right_ankle', 'right_knee', 'right_hip', 'left_hip',
               'left_knee', 'left_ankle', 'right_wrist', 'right_elbow',
               'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist',
               'neck', 'head_top')
# Output order of the 17-joint H36M regressors (pelvis first). METRO names
# index 8 'Neck' and 9 'Nose'; it is the joint LSP-14 calls neck.
H36M17_NAMES = ('pelvis', 'right_hip', 'right_knee', 'right_ankle',
                'left_hip', 'left_knee', 'left_ankle', 'spine', 'thorax',
                'neck', 'head_top', 'left_shoulder', 'left_elbow',
                'left_wrist', 'right_shoulder', 'right_elbow',
                'right_wrist')
# Picks LSP-14 out of H36M-17 (METRO's H36M_J17_TO_J14); LSP neck <- 8.
H36M_TO_J14 = (3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13, 8, 10)
# METRO's 24-joint label list -> LSP-14; index 14 of that list is Pelvis.
J24_TO_J14 = tuple(range(13)) + (18, )
J24_PELVIS = 14
# Root of LSP-14 for alignment: mean of the two hips.
MID_HIP = (2, 3)
PELVIS_H36M = 0

# Left/right swaps for horizontal flipping.
LSP14_FLIP_PERM = (5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13)
SMPL24_FLIP_PERM = (0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17,
                    16, 19, 18, 21, 20, 23, 22)
# SMPL-24 kinematic parents (root has -1).
SMPL24_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14,
                  16, 17, 18, 19, 20, 21)
SMPL24_NAMES = ('pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee',
                'right_knee', 'spine2', 'left_ankle', 'right_ankle',
                'spine3', 'left_foot', 'right_foot', 'neck', 'left_collar',
                'right_collar', 'head', 'left_shoulder', 'right_shoulder',
                'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist',
                'left_hand', 'right_hand')
