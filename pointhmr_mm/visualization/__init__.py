from .camera import (perspective_to_screen, side_view,
                     weak_perspective_to_screen)
from .display import has_display, show_image
from .mesh_visualizer import (MeshVisualizer, draw_heatmap_grid,
                              draw_keypoints_2d, draw_mesh_prediction,
                              draw_side_view)
from .overlay import draw_people, person_colors
from .renderer import MeshRenderer, rasterize

__all__ = [
    'MeshRenderer', 'rasterize', 'perspective_to_screen', 'side_view',
    'weak_perspective_to_screen', 'MeshVisualizer', 'draw_heatmap_grid',
    'draw_keypoints_2d', 'draw_mesh_prediction', 'draw_side_view',
    'draw_people', 'person_colors', 'has_display', 'show_image'
]
