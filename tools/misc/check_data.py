"""Check that every file a config needs is there and readable.

    python tools/misc/check_data.py CONFIG [--num-samples N] [--all]
        [--cfg-options k=v ...]

Builds the config's body models, joint regressors, mesh sampler, the model
and every dataset, reads a few samples of each, and prints one report with
every problem found: the config key, the file, what is wrong and the README
section that says where the file comes from. Exits 1 if anything is wrong.
"""
import argparse
import sys

from mmengine.config import Config, DictAction

from pointhmr_mm.setup_env import register_all_modules
from pointhmr_mm.apis.data_doctor import DataDoctor


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Check the files a PointHMR config needs')
    parser.add_argument('config')
    parser.add_argument('--num-samples', type=int, default=3,
                        help='samples read per dataset (default 3)')
    parser.add_argument('--all', action='store_true',
                        help='read every sample of every dataset')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value')
    args = parser.parse_args(argv)
    if args.num_samples < 1:
        parser.error(f'--num-samples must be >= 1, got {args.num_samples}')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cfg = Config.fromfile(args.config)
    except (OSError, SyntaxError, ValueError) as err:
        print(f'check_data: cannot read config {args.config}: {err}')
        return 1
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules()
    print(f'check_data: {args.config}')
    problems = DataDoctor(cfg, num_samples=args.num_samples,
                          read_all=args.all).run()
    if not problems:
        print('check_data: no problems found')
        return 0
    print(f'\ncheck_data: {len(problems)} problem(s):')
    for i, problem in enumerate(problems, 1):
        print(f'{i}. {problem}')
    return 1


if __name__ == '__main__':
    sys.exit(main())
