from .positional_encoding import sine_position_encoding
from .res_layer import make_basic_decoder
from .transformer import MaskedEncoderBlock, MaskedEncoderLayer

__all__ = [
    'sine_position_encoding', 'make_basic_decoder', 'MaskedEncoderBlock',
    'MaskedEncoderLayer'
]
