// Keras checkpoints into RNNRef networks: lands with the Keras import issue.
