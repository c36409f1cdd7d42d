"""Our own PyTorch definitions of Vim, VMamba and ConvNeXt-S4ND, written from the specs in the
project's shared specs (vim.md, vmamba.md, s4nd.md), with state_dict keys and shapes identical to the
official releases so official checkpoints load with strict=True."""
