# Sizes and data location shared by the demo configs (make demo): the
# encoder of configs/vicmae/pretrain_demo.py and the downstream demo
# configs must agree, so they all take it from here.
#
# data_root holds what tools/data/demo/generate_demo_data.py writes
# (images/, videos/, coco/); tools/demo/run_demo.py points the configs at
# its own copy.
demo_data_root = 'data/demo/'
# ViT 128 wide x 4 deep on 32 px inputs with 8 px patches (4 x 4 tokens)
demo_arch = dict(
    embed_dims=128, num_layers=4, num_heads=4, feedforward_channels=512)
demo_img_size = 32
demo_patch_size = 8
