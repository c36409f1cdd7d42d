/* placeholder until protoc-c output lands */
