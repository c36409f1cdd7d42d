// SSMCRuntime module.
