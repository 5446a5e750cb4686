"""Whether a window can be opened, and showing a picture in one: the one
place tools and the inferencer ask."""
import os
import sys

import numpy as np


def has_display() -> bool:
    """Windows and macOS always; elsewhere an X11 or Wayland display
    (``DISPLAY`` or ``WAYLAND_DISPLAY`` set)."""
    if sys.platform in ('win32', 'darwin'):
        return True
    return bool(os.environ.get('DISPLAY') or
                os.environ.get('WAYLAND_DISPLAY'))


def show_image(image_bgr: np.ndarray, title: str, seconds: float) -> None:
    """Show a BGR picture in a matplotlib window for ``seconds``.

    matplotlib rather than ``cv2.imshow``: headless OpenCV wheels (the ones
    pip installs alongside mmcv-lite) have no GUI backend.
    """
    import matplotlib.pyplot as plt  # only when a window is wanted
    plt.figure(title)
    plt.clf()
    plt.title(title)
    plt.imshow(np.asarray(image_bgr)[..., ::-1])
    plt.axis('off')
    plt.pause(max(float(seconds), 1e-3))
