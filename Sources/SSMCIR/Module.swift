// SSMCIR module.
