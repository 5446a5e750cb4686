"""check_state_dict: weights that do not fit a model are named."""
import pytest
import torch

from pointhmr_mm.utils.state_dict import (check_state_dict,
                                          state_dict_mismatches)


class Net(torch.nn.Module):

    def __init__(self, width=3, extra=False):
        super().__init__()
        self.fc = torch.nn.Linear(2, width)
        self.norm = torch.nn.BatchNorm1d(width)
        # never saved: not expected in a state dict
        self.register_buffer('lookup', torch.zeros(4), persistent=False)
        if extra:
            self.head = torch.nn.Linear(width, 1)


def test_a_fitting_state_dict_passes():
    net = Net()
    check_state_dict(net, Net().state_dict(), 'same.pth')
    assert 'lookup' not in net.state_dict()


def test_each_kind_of_mismatch_is_named_with_the_source():
    state = Net(width=4, extra=True).state_dict()
    state.pop('norm.running_var')
    with pytest.raises(RuntimeError) as err:
        check_state_dict(Net(), state, 'other.pth')
    message = str(err.value)
    assert 'other.pth' in message and 'Net' in message
    assert '1 missing keys: norm.running_var' in message
    assert '2 unexpected keys: head.bias, head.weight' in message
    assert 'fc.weight: checkpoint (4, 2) vs model (3, 2)' in message
    found = state_dict_mismatches(Net(), state)
    # fc weight and bias, norm weight, bias and running mean
    assert len(found['shape']) == 5


def test_long_lists_are_cut_with_a_count():
    state = {f'k{i:02d}': torch.zeros(1) for i in range(12)}
    state.update(Net().state_dict())
    with pytest.raises(RuntimeError,
                       match=r'12 unexpected keys: k00, k01, k02, k03, '
                       r'k04 \.\.\. \(12 in all\)'):
        check_state_dict(Net(), state, 'many.pth')
