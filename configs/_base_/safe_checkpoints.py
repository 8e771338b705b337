# What every config of this toolkit adds to its host library's runtime:
# load vicmae_mm (registers its components and makes checkpoint loading
# weights-only) and save checkpoints as plain values, so that `--resume`
# and `load_from` load them with weights_only=True.
# The atomic checkpoint writes (`default_hooks.checkpoint.backend_args=
# dict(backend='atomic_local')`) cannot live here: the host runtime bases
# set `default_hooks`, and mmengine refuses a key set by two sibling bases.
custom_imports = dict(imports=['vicmae_mm'], allow_failed_imports=False)
custom_hooks = [dict(type='WeightsOnlyCheckpointHook')]
