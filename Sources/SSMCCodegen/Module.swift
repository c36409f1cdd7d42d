// SSMCCodegen module.
