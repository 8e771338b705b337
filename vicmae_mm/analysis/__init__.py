# Copyright (c) vicmae_mm contributors. All rights reserved.
"""Performance analysis: the plain reference implementation of the ViC-MAE
objective and an exact analytic FLOP count. Not imported by ``vicmae_mm``;
tools and tests import these modules directly."""
