//! convkit-runtime: tensors, layers, threading and the command-line program.
