"""Export PointHMR to ONNX with a dynamic batch size.

    python tools/deploy/export_onnx.py CONFIG CKPT OUT.onnx [--opset 17]

Input ``image``: float32 (B, 3, S, S), BGR pixel values 0-255 of the crop
(as the data pipeline produces); normalisation is part of the graph.
Outputs ``camera`` (B, 3), ``joints`` (B, 14, 3), ``vertices`` (B, N, 3).
"""
import argparse
from pathlib import Path

import torch
from torch import nn

from pointhmr_mm.apis import init_model
from pointhmr_mm.apis.inference import crop_size_of


class ExportWrapper(nn.Module):
    """Normalisation + the network's tensor mode, for export."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        pre = model.data_preprocessor
        # (3, 1, 1) each, in the order after the channel conversion
        self.register_buffer('mean', pre.mean.clone())
        self.register_buffer('std', pre.std.clone())
        self.bgr_to_rgb = pre._channel_conversion

    def forward(self, image):
        if self.bgr_to_rgb:
            image = image.flip(1)
        return self.model((image - self.mean) / self.std, mode='tensor')


def export(config, checkpoint, out, opset=17, batch=2):
    model = init_model(config, checkpoint)
    size = crop_size_of(model)
    wrapper = ExportWrapper(model).eval()
    dummy = torch.rand(batch, 3, size, size) * 255
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        wrapper, (dummy, ), str(out), input_names=['image'],
        output_names=['camera', 'joints', 'vertices'], opset_version=opset,
        dynamic_axes={name: {0: 'batch'} for name in
                      ('image', 'camera', 'joints', 'vertices')},
        dynamo=False)
    return wrapper, size


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out')
    parser.add_argument('--opset', type=int, default=17)
    args = parser.parse_args()
    export(args.config, args.checkpoint, args.out, args.opset)
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
