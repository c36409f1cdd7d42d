// SSMCFrontend module.
