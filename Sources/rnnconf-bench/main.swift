print("rnnconf-bench: lands with the RNNRef issue")
