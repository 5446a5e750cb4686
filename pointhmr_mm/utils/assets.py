"""Generated assets that a config asks for (the quick start's)."""


def prepare_config_assets(cfg) -> None:
    """Make the assets named by ``cfg.quickstart_assets`` if absent: the
    mannequin body model, its mesh hierarchy and the synthetic splits."""
    spec = cfg.get('quickstart_assets')
    if not spec:
        return
    from pointhmr_mm.datasets.synthetic import ensure_quickstart_assets
    ensure_quickstart_assets(**spec)
