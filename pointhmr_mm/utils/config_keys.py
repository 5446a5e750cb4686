"""Walking a nested config along a dotted key (``a.0.b``), as mmengine's
``--cfg-options`` names entries: dict keys and list indices."""
from typing import Any, Iterator, Tuple


def walk_dotted(root: Any, key: str) -> Iterator[Tuple[str, Any]]:
    """Yield ``(prefix, node)`` along ``key``: the root with prefix ``''``,
    then every node the key reaches, with the dotted prefix that reaches
    it. Stops where the key leaves the tree (a missing key, an index out of
    range, or a value that is neither a dict nor a list).

    Args:
        root: Nested dicts and lists (a ``Config``'s dict, ``to_dict()``).
        key: Dotted key, e.g. ``train_dataloader.dataset.datasets.0``.
    """
    node, parts = root, key.split('.')
    yield '', node
    for depth, part in enumerate(parts):
        if isinstance(node, (list, tuple)) and part.isdigit() and \
                int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return
        yield '.'.join(parts[:depth + 1]), node
