// The safe Swift layer over libhdf5 lands with the foundation issue.
