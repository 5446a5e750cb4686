from .pixel_mix import ChannelsFirstConv1x1
from .positional_encoding import sine_position_encoding
from .res_layer import make_basic_decoder
from .transformer import MaskedEncoderBlock, MaskedEncoderLayer

__all__ = [
    'ChannelsFirstConv1x1', 'sine_position_encoding', 'make_basic_decoder',
    'MaskedEncoderBlock', 'MaskedEncoderLayer'
]
