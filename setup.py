# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Install vicmae_mm. The full, pinned stack is set up by ``make install``
(scripts/install.sh), because mmcv must be built against the local torch."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(fname: str) -> list:
    """Read a requirements file, dropping comments and blank lines."""
    reqs = []
    with open(osp.join(HERE, 'requirements', fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line:
                reqs.append(line)
    return reqs


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'vicmae_mm', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


setup(
    name='vicmae_mm',
    version=get_version(),
    description='ViC-MAE (ECCV 2024) for the OpenMMLab ecosystem: one ViT '
    'pretrained on images and videos, fine-tuned in mmpretrain, mmaction2 '
    'and mmdet',
    long_description=open(osp.join(HERE, 'README.md')).read()
    if osp.exists(osp.join(HERE, 'README.md')) else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    python_requires='>=3.10',
    install_requires=read_requirements('mminstall.txt') +
    read_requirements('runtime.txt'),
    extras_require={'tests': read_requirements('tests.txt')},
    license='Apache License 2.0',
    zip_safe=False,
)
