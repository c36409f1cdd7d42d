// SSMCPasses module.
