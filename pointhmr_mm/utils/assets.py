"""Generated assets that a config asks for (the quick start's)."""


def prepare_config_assets(cfg) -> None:
    """Make the assets named by ``cfg.quickstart_assets`` if absent: the
    embedded Anny body (a vertex subset), its mesh hierarchy and the
    synthetic splits (:func:`pointhmr_mm.synthetic.ensure_quickstart_assets`
    takes the dict's keys)."""
    spec = cfg.get('quickstart_assets')
    if not spec:
        return
    from pointhmr_mm.synthetic import ensure_quickstart_assets
    ensure_quickstart_assets(**spec)
