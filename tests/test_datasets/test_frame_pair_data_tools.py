# Copyright (c) vicmae_mm contributors. All rights reserved.
"""tools/data: build lists from class folders; scan videos."""
import csv
import importlib.util
import os.path as osp
import subprocess
import sys

from frame_pair_data import write_bad_videos, write_coded_video
from helpers import REPO_ROOT

TOOLS = osp.join(REPO_ROOT, 'tools', 'data')


def run_tool(name, *args):
    """Run a tool as a command (what a user does)."""
    return subprocess.run(
        [sys.executable, osp.join(TOOLS, name), *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT)


def tool_main(name):
    """The tool's ``main(argv)``, loaded from its file (no subprocess: the
    machine is small)."""
    spec = importlib.util.spec_from_file_location(name[:-3],
                                                  osp.join(TOOLS, name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_build_file_list_from_class_folders(tmp_path):
    root = tmp_path / 'videos'
    write_coded_video(str(root / 'jump' / 'x1.mp4'), 5, 10)
    write_coded_video(str(root / 'jump' / 'deep' / 'x2.mp4'), 5, 10)
    write_coded_video(str(root / 'abseil' / 'y.mp4'), 5, 10)
    (root / 'abseil' / 'readme.txt').write_text('skip me')
    out = tmp_path / 'lists' / 'train_list_videos.txt'
    proc = run_tool('build_file_list.py', str(root), str(out))
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().splitlines() == [
        'abseil/y.mp4 0', 'jump/deep/x2.mp4 1', 'jump/x1.mp4 1'
    ]
    classes = tmp_path / 'lists' / 'train_list_videos_classes.txt'
    assert classes.read_text().splitlines() == ['abseil', 'jump']
    # the list is what VideoFramePairDataset reads
    from vicmae_mm.datasets import VideoFramePairDataset
    ds = VideoFramePairDataset(
        ann_file=str(out), data_prefix=dict(video=str(root)))
    assert ds.get_labels().tolist() == [0, 1, 1]
    assert all(osp.isfile(ds.get_data_info(i)['filename']) for i in range(3))
    # flat, unlabeled
    flat = tmp_path / 'flat.txt'
    assert tool_main('build_file_list.py')([str(root),
                                            str(flat), '--flat']) == 0
    assert flat.read_text().splitlines() == [
        'abseil/y.mp4', 'jump/deep/x2.mp4', 'jump/x1.mp4'
    ]
    # nothing to list: a clear failure
    empty = tmp_path / 'empty'
    (empty / 'cls').mkdir(parents=True)
    assert tool_main('build_file_list.py')(
        [str(empty), str(tmp_path / 'e.txt')]) == 1


def test_scan_videos_reports_unreadable_frames_fps_durations(tmp_path, capsys):
    root = tmp_path / 'videos'
    write_coded_video(str(root / 'a.mp4'), 50, 25)
    write_coded_video(str(root / 'b.mp4'), 30, 10)
    bad = write_bad_videos(str(root / 'bad'))
    ann = tmp_path / 'list.txt'
    ann.write_text('a.mp4 3\nb.mp4 4\nbad/zero_bytes.mp4 1\n'
                   'bad/truncated.mp4 1\nbad/missing.mp4 2\n'
                   'bad/one_frame.mp4 0\n')
    report, good = tmp_path / 'scan.csv', tmp_path / 'good.txt'
    scan = tool_main('scan_videos.py')
    code = scan([
        str(root), '--ann-file',
        str(ann), '--out',
        str(report), '--good-list',
        str(good), '--decode'
    ])
    stdout = capsys.readouterr().out
    assert code == 1  # some videos are unreadable
    rows = {osp.basename(r['path']): r for r in csv.DictReader(open(report))}
    assert rows['a.mp4']['status'] == 'ok'
    assert (rows['a.mp4']['frames'], rows['a.mp4']['fps'],
            rows['a.mp4']['duration_s']) == ('50', '25.0', '2.0')
    assert (rows['b.mp4']['frames'], rows['b.mp4']['duration_s']) == ('30',
                                                                      '3.0')
    assert (rows['a.mp4']['width'], rows['a.mp4']['height']) == ('96', '64')
    # a 1-frame video is readable (the pair sampler skips it later)
    assert rows['one_frame.mp4']['frames'] == '1'
    for name in ('zero_bytes.mp4', 'truncated.mp4', 'missing.mp4'):
        assert rows[name]['status'] == 'unreadable'
        assert rows[name]['error']
    assert 'UNREADABLE ' + bad['missing'] in stdout
    assert '6 videos: 3 readable, 3 unreadable' in stdout
    assert good.read_text().splitlines() == [
        'a.mp4 3', 'b.mp4 4', 'bad/one_frame.mp4 0'
    ]
    # folder mode, as a command, in parallel
    proc = run_tool('scan_videos.py', str(root / 'bad'), '--nproc', '2')
    assert proc.returncode == 1
    assert '5 videos: 1 readable, 4 unreadable' in proc.stdout, proc.stdout
