"""The released PointHMR checkpoint's key layout, with random weights."""
import ast
import math

import numpy as np
import torch

from toolbox import TESTS

# One line a tensor: its key, its shape as a tuple literal, its dtype.
KEYS_FILE = TESTS / 'data' / 'official_state_dict_keys.txt'


def random_released_state_dict(seed=0):
    """Random tensors in the released key layout and shapes."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for line in KEYS_FILE.read_text().splitlines():
        key, rest = line.split(' ', 1)
        shape = ast.literal_eval(rest.rsplit(' ', 1)[0])
        if key.endswith('num_batches_tracked'):
            state[key] = torch.zeros(shape, dtype=torch.int64)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=g) + 0.5
        elif key.endswith(('norm1.weight', 'norm2.weight', 'norm.weight')) \
                or key.endswith('bn1.weight') or key.endswith('bn2.weight'):
            state[key] = 1 + 0.1 * torch.randn(shape, generator=g)
        else:
            fan_in = max(1, int(np.prod(shape[1:]))) if len(shape) > 1 else 1
            state[key] = torch.randn(shape, generator=g) / math.sqrt(fan_in)
    return state
