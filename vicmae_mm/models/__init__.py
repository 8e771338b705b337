# Copyright (c) vicmae_mm contributors. All rights reserved.
from .backbones import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from . import downstream  # noqa: F401
from .utils import *  # noqa: F401,F403
from .vicmae import ViCMAE  # noqa: F401
