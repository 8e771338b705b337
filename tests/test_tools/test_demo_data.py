# Copyright (c) vicmae_mm contributors. All rights reserved.
"""tools/data/demo/generate_demo_data.py: determinism, layout, decodable
videos whose motion matches their label, and valid COCO annotations."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from helpers import REPO_ROOT

GENERATOR = osp.join(REPO_ROOT, 'tools', 'data', 'demo',
                     'generate_demo_data.py')
# small but complete: every class and direction present in both splits
SMALL = [
    '--images-per-class', '2,1', '--direction-videos', '8,4',
    '--pretrain-videos', '2', '--coco-images', '6,4'
]
DIRECTION_STEP = {0: (0, -1), 1: (0, 1), 2: (-1, 0), 3: (1, 0)}


def _generate(out, seed, *extra):
    proc = subprocess.run([
        sys.executable, GENERATOR, '--out', out, '--seed',
        str(seed), *SMALL, *extra
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    return proc


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """Two generations with seed 0 and one with seed 1."""
    root = tmp_path_factory.mktemp('demo_data')
    outs = {}
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        outs[name] = str(root / name)
        proc = _generate(outs[name], seed)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return outs


def _files(root):
    found = []
    for dirpath, _, names in os.walk(root):
        found += [osp.relpath(osp.join(dirpath, n), root) for n in names]
    return sorted(found)


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def _frames(path):
    import decord
    reader = decord.VideoReader(path)
    return reader.get_batch(list(range(len(reader)))).asnumpy()


def _list(path):
    with open(path) as f:
        return [line.split() for line in f.read().splitlines()]


def _meta(root):
    with open(osp.join(root, 'meta.json')) as f:
        return json.load(f)


def test_same_seed_gives_identical_data(demo):
    a, b, c = demo['a'], demo['b'], demo['c']
    files = _files(a)
    assert files == _files(b)
    videos = [f for f in files if f.endswith('.mp4')]
    others = [f for f in files if not f.endswith('.mp4')]
    assert len(videos) == 8 + 4 + 2
    assert {
        'meta.json', 'sources.json', 'images/train.txt',
        'videos/train_list.txt', 'videos/pretrain_list.txt',
        'coco/annotations/instances_val.json'
    } <= set(others)
    for f in others:  # lists, json, PNGs: byte-identical
        assert _read(osp.join(a, f)) == _read(osp.join(b, f)), f
    for f in videos:  # videos: identical decoded frames
        assert np.array_equal(_frames(osp.join(a, f)), _frames(osp.join(b, f)))
    # another seed gives other data
    for f in ('coco/annotations/instances_train.json', 'sources.json',
              'images/train/3/3_0000.png'):
        assert _read(osp.join(a, f)) != _read(osp.join(c, f)), f
    assert not np.array_equal(
        _frames(osp.join(a, videos[0])), _frames(osp.join(c, videos[0])))


def test_train_and_val_use_disjoint_digits(demo):
    with open(osp.join(demo['a'], 'sources.json')) as f:
        sources = json.load(f)
    train = set(sources['split_digit_indices']['train'])
    val = set(sources['split_digit_indices']['val'])
    assert not train & val
    assert len(train | val) == 1797  # every bundled digit, once
    files = sources['files']
    assert len(files) == 30 + 14 + 10
    for path, used in files.items():
        assert used or path.startswith('coco/'), path
        split = 'val' if '/val/' in f'/{path}' else 'train'
        allowed = val if split == 'val' else train
        assert set(used) <= allowed, (path, used)


def test_still_images_are_a_labelled_class_per_folder_set(demo):
    from mmpretrain.datasets import CustomDataset
    root = osp.join(demo['a'], 'images')
    meta = _meta(demo['a'])
    for split, per_class in (('train', 2), ('val', 1)):
        rows = _list(osp.join(root, f'{split}.txt'))
        assert len(rows) == 10 * per_class == meta['counts']['images'][split]
        for rel, label in rows:
            assert rel.split('/')[1] == label
            img = cv2.imread(osp.join(root, rel))
            assert img.shape == (32, 32, 3), rel
        # the folder layout loads in mmpretrain with label = digit
        folder = CustomDataset(data_root=osp.join(root, split), pipeline=[])
        assert folder.CLASSES == tuple(str(d) for d in range(10))
        assert len(folder) == len(rows)
        assert sorted(
            int(folder.get_data_info(i)['gt_label'])
            for i in range(len(folder))) == sorted(
                int(label) for _, label in rows)
        listed = CustomDataset(
            data_root=root, ann_file=f'{split}.txt', pipeline=[])
        assert len(listed) == len(rows)


def test_videos_decode_at_stated_fps_and_length(demo):
    import decord
    root = osp.join(demo['a'], 'videos')
    video = _meta(demo['a'])['video']
    assert (video['fps'], video['num_frames']) == (10, 30)
    with open(osp.join(root, 'classes.txt')) as f:
        assert f.read().split() == ['left', 'right', 'up', 'down']
    listed = []
    for split, num in (('train', 8), ('val', 4)):
        rows = _list(osp.join(root, f'{split}_list.txt'))
        assert len(rows) == num
        assert sorted(int(label) for _, label in rows) == sorted(
            list(range(4)) * (num // 4))
        listed += [rel for rel, _ in rows]
    pretrain = [row[0] for row in _list(osp.join(root, 'pretrain_list.txt'))]
    assert pretrain[:2] == ['pretrain/00000.mp4', 'pretrain/00001.mp4']
    # unlabelled list: bouncing clips + train direction clips, no val clip
    assert pretrain[2:] == [r for r in listed if r.startswith('train/')]
    for rel in listed + pretrain[:2]:
        reader = decord.VideoReader(osp.join(root, rel))
        assert len(reader) == video['num_frames'], rel
        assert reader.get_avg_fps() == pytest.approx(video['fps']), rel
        assert reader[0].shape == (video['height'], video['width'], 3)


def test_mmaction2_reads_the_video_lists(demo):
    from mmaction.datasets import VideoDataset
    root = osp.join(demo['a'], 'videos')
    dataset = VideoDataset(
        ann_file=osp.join(root, 'val_list.txt'),
        data_prefix=dict(video=root),
        pipeline=[])
    assert len(dataset) == 4
    info = dataset.get_data_info(0)
    assert osp.isfile(info['filename']) and info['label'] == 0


def _dominant_shift(a, b):
    """Circular shift (dy, dx) that best maps foreground map a onto b."""
    corr = np.fft.ifft2(np.fft.fft2(b) * np.conj(np.fft.fft2(a))).real
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    h, w = corr.shape
    return (dy - h if dy > h // 2 else dy), (dx - w if dx > w // 2 else dx)


def test_direction_labels_match_the_motion_in_the_pixels(demo):
    root = osp.join(demo['a'], 'videos')
    rows = _list(osp.join(root, 'train_list.txt')) + _list(
        osp.join(root, 'val_list.txt'))
    for rel, label in rows:
        frames = _frames(osp.join(root, rel)).astype(np.float32)
        # digits move, the background does not: the temporal median is it
        foreground = np.abs(frames - np.median(frames, axis=0)).sum(-1)
        dy, dx = _dominant_shift(foreground[0], foreground[3])
        step = (0,
                int(np.sign(dx))) if abs(dx) > abs(dy) else (int(np.sign(dy)),
                                                             0)
        assert step == DIRECTION_STEP[int(label)], (rel, label, dy, dx)
        assert 3 <= max(abs(dx), abs(dy)) <= 12  # 3 frames x 1.5..3.5 px


def test_coco_sets_are_valid_and_masks_follow_the_strokes(demo):
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    root = osp.join(demo['a'], 'coco')
    for split, num in (('train', 6), ('val', 4)):
        coco = COCO(osp.join(root, 'annotations', f'instances_{split}.json'))
        assert len(coco.getImgIds()) == num
        assert [c['name'] for c in coco.loadCats(coco.getCatIds())
                ] == [str(d) for d in range(10)]
        anns = coco.loadAnns(coco.getAnnIds())
        assert len(anns) >= num
        assert len({a['id'] for a in anns}) == len(anns)
        for img_info in coco.loadImgs(coco.getImgIds()):
            image = cv2.imread(osp.join(root, split, img_info['file_name']))
            assert image.shape == (img_info['height'], img_info['width'], 3)
            for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_info['id'])):
                assert ann['iscrowd'] == 0 and 1 <= ann['category_id'] <= 10
                mask = coco.annToMask(ann).astype(bool)
                assert mask.sum() == ann['area'] > 0
                ys, xs = np.nonzero(mask)
                box = [
                    xs.min(),
                    ys.min(),
                    xs.max() - xs.min() + 1,
                    ys.max() - ys.min() + 1
                ]
                assert np.allclose(ann['bbox'], box), (ann['bbox'], box)
                assert np.allclose(
                    mask_utils.toBbox(coco.annToRLE(ann)), ann['bbox'])
                # the mask covers the bright digit, not the dark canvas
                x, y, w, h = box
                crop = image[y:y + h, x:x + w].astype(float).sum(-1)
                inside = crop[mask[y:y + h, x:x + w]].mean()
                outside = image.astype(float).sum(-1)[~mask].mean()
                assert inside > outside + 150, (ann['id'], inside, outside)
        # the ground truth scored against itself is perfect, for boxes and
        # masks: the file is usable by the COCO evaluator
        dets = coco.loadRes([
            dict(
                image_id=a['image_id'],
                category_id=a['category_id'],
                bbox=a['bbox'],
                segmentation=a['segmentation'],
                score=1.0) for a in anns
        ])
        for iou_type in ('bbox', 'segm'):
            evaluator = COCOeval(coco, dets, iou_type)
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
            assert evaluator.stats[0] == pytest.approx(1.0), iou_type


def test_mmdet_loads_the_coco_sets(demo):
    from mmdet.datasets import CocoDataset
    root = osp.join(demo['a'], 'coco')
    dataset = CocoDataset(
        data_root=root,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        metainfo=dict(classes=tuple(str(d) for d in range(10))),
        pipeline=[])
    with open(osp.join(root, 'annotations', 'instances_val.json')) as f:
        raw = json.load(f)
    assert len(dataset) == 4
    instances = [i for k in range(4) for i in dataset[k]['instances']]
    assert len(instances) == len(raw['annotations'])
    assert {i['bbox_label'] for i in instances} <= set(range(10))
    assert all(i['mask'] for i in instances)


def test_refuses_foreign_or_existing_output(tmp_path):
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'mine.txt').write_text('keep me')
    proc = _generate(str(foreign), 0)
    assert proc.returncode != 0 and 'not written by this generator' in \
        proc.stderr
    assert (foreign / 'mine.txt').read_text() == 'keep me'

    out = str(tmp_path / 'demo')
    assert _generate(out, 0).returncode == 0
    again = _generate(out, 0)
    assert again.returncode != 0 and '--overwrite' in again.stderr
    assert _generate(out, 1, '--overwrite').returncode == 0
    assert _meta(out)['spec']['seed'] == 1


def test_rejects_sizes_that_do_not_fit(tmp_path):
    proc = _generate(str(tmp_path / 'demo'), 0, '--image-size', '16')
    assert proc.returncode != 0
    assert '--image-size must hold the largest image digit' in proc.stderr


def test_plain_palette_leaves_digit_shape_as_the_only_variation(tmp_path):
    out = str(tmp_path / 'plain')
    proc = _generate(out, 0, '--plain')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _meta(out)['spec']['plain'] is True
    for rel, _ in _list(osp.join(out, 'images', 'train.txt')):
        img = cv2.imread(osp.join(out, 'images', rel)).astype(int)
        # grey: all channels equal; canvas uniform at 20; digit bright
        assert (img.max(-1) - img.min(-1)).max() <= 1
        assert (img[..., 0] == 20).mean() > 0.4 and img.max() >= 200
