"""Print a config as the Runner sees it, after inheritance and overrides.

    python tools/misc/print_config.py CONFIG [--cfg-options k=v ...]
        [--save-path merged.py]
"""
import argparse

from mmengine.config import Config, DictAction

from pointhmr_mm.engine.entry_points import ConfigError, merge_cfg_options


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    parser.add_argument('--save-path', help='also write the merged config '
                        '(.py, .json or .yaml)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    try:
        merge_cfg_options(cfg, args.cfg_options or {})
    except ConfigError as err:
        raise SystemExit(f'error: {err}') from None
    print(cfg.pretty_text)
    if args.save_path:
        cfg.dump(args.save_path)
        print(f'written to {args.save_path}')


if __name__ == '__main__':
    main()
