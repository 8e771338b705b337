# Copyright (c) vicmae_mm contributors. All rights reserved.
