# Copyright (c) vicmae_mm contributors. All rights reserved.
"""The demo summary records the CPU it ran on, as the benchmark does."""
import argparse
import json
import os.path as osp
import sys

from helpers import REPO_ROOT
from vicmae_mm.models.utils.cpu_kernels import cpu_description

# for good, as tests/test_tools/test_demo_pipeline.py does: run_demo adds
# the demo data tools to sys.path when imported, and stays imported
sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'demo'))


def test_demo_summary_names_the_cpu(tmp_path):
    import run_demo
    timing = dict(load_start='0.00, 0.00, 0.00', total_s=1.0, stages={})
    args = argparse.Namespace(
        quick=True, data_root=str(tmp_path / 'data'), jobs=2, threads=1)
    run_demo.write_summary(str(tmp_path), [], {}, dict(spec={}, counts={}),
                           timing, [], args)
    cpu = cpu_description()
    with open(tmp_path / 'summary.json') as f:
        assert json.load(f)['machine']['cpu'] == cpu
    assert f'({cpu})' in (tmp_path / 'summary.md').read_text()
    # model name, vendor, family/model and the kernel-relevant flags
    with open('/proc/cpuinfo') as f:
        info = f.read()
    name = [ln for ln in info.splitlines()
            if ln.startswith('model name')][0].split(':', 1)[1].strip()
    assert cpu.startswith(name) and 'family' in cpu
