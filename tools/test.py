# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Evaluate a checkpoint with an mmengine Runner (mmpretrain's interface)."""
from typing import List, Optional

from mmengine.runner import Runner

import vicmae_mm  # noqa: F401
from runner_cli import (build_parser, finish_distributed, load_config,
                        parse_args, prepare_cpu_distributed,
                        prepare_slurm_port)


def main(argv: Optional[List[str]] = None) -> None:
    parser = build_parser('Test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='dump raw predictions to this pickle')
    args = parse_args(parser, argv)
    cfg = load_config(args)
    cfg.load_from = args.checkpoint
    if args.out:
        evaluators = cfg.test_evaluator
        if not isinstance(evaluators, (list, tuple)):
            evaluators = [evaluators]
        cfg.test_evaluator = list(evaluators) + [
            dict(type='DumpResults', out_file_path=args.out)
        ]
    prepare_slurm_port()
    prepare_cpu_distributed(cfg)
    runner = Runner.from_cfg(cfg)
    runner.test()
    finish_distributed()


if __name__ == '__main__':
    main()
