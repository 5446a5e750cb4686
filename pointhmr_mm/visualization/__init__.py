from .renderer import (MeshRenderer, perspective_to_screen, side_view,
                       weak_perspective_to_screen)

__all__ = [
    'MeshRenderer', 'perspective_to_screen', 'side_view',
    'weak_perspective_to_screen'
]
