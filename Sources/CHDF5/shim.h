// What Swift cannot import from hdf5.h: library globals hidden behind
// macros (H5T_NATIVE_FLOAT expands to H5OPEN H5T_NATIVE_FLOAT_g) and
// function-like macros. Each is exposed as a static inline function.
#ifndef RNNCONF_CHDF5_SHIM_H
#define RNNCONF_CHDF5_SHIM_H

#include <hdf5.h>

// Property lists and special ids.
static inline hid_t chdf5_P_DEFAULT(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_S_ALL(void) { return H5S_ALL; }
static inline hid_t chdf5_P_FILE_ACCESS(void) { return H5P_FILE_ACCESS; }
static inline hid_t chdf5_P_FILE_CREATE(void) { return H5P_FILE_CREATE; }
static inline hid_t chdf5_P_GROUP_CREATE(void) { return H5P_GROUP_CREATE; }
static inline hid_t chdf5_P_DATASET_CREATE(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_P_LINK_CREATE(void) { return H5P_LINK_CREATE; }
static inline hid_t chdf5_E_DEFAULT(void) { return H5E_DEFAULT; }

// File access flags.
static inline unsigned chdf5_F_ACC_RDONLY(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_F_ACC_RDWR(void) { return H5F_ACC_RDWR; }
static inline unsigned chdf5_F_ACC_TRUNC(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_F_ACC_EXCL(void) { return H5F_ACC_EXCL; }

// Native in-memory types.
static inline hid_t chdf5_T_NATIVE_FLOAT(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_T_NATIVE_DOUBLE(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_T_NATIVE_INT8(void) { return H5T_NATIVE_INT8; }
static inline hid_t chdf5_T_NATIVE_UINT8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_T_NATIVE_INT16(void) { return H5T_NATIVE_INT16; }
static inline hid_t chdf5_T_NATIVE_UINT16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t chdf5_T_NATIVE_INT32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_T_NATIVE_UINT32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t chdf5_T_NATIVE_INT64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_T_NATIVE_UINT64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t chdf5_T_C_S1(void) { return H5T_C_S1; }
static inline hid_t chdf5_T_STD_REF_OBJ(void) { return H5T_STD_REF_OBJ; }

// Little-endian file types, as h5py writes them.
static inline hid_t chdf5_T_IEEE_F16LE(void) {
#ifdef H5T_IEEE_F16LE
  return H5T_IEEE_F16LE;
#else
  return -1;
#endif
}
static inline hid_t chdf5_T_IEEE_F32LE(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_T_IEEE_F64LE(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_T_STD_I64LE(void) { return H5T_STD_I64LE; }
static inline hid_t chdf5_T_STD_I32LE(void) { return H5T_STD_I32LE; }
static inline hid_t chdf5_T_STD_U8LE(void) { return H5T_STD_U8LE; }
static inline hid_t chdf5_T_STD_I8LE(void) { return H5T_STD_I8LE; }
static inline hid_t chdf5_T_STD_I16LE(void) { return H5T_STD_I16LE; }
static inline hid_t chdf5_T_STD_U64LE(void) { return H5T_STD_U64LE; }

// Variable-length sizes.
static inline size_t chdf5_VARIABLE(void) { return H5T_VARIABLE; }
static inline hsize_t chdf5_S_UNLIMITED(void) { return H5S_UNLIMITED; }

// Object info fields, creation-order flags, more property-list classes.
static inline unsigned chdf5_O_INFO_BASIC(void) { return H5O_INFO_BASIC; }
static inline unsigned chdf5_O_INFO_NUM_ATTRS(void) { return H5O_INFO_NUM_ATTRS; }
static inline unsigned chdf5_P_CRT_ORDER_TRACKED(void) { return H5P_CRT_ORDER_TRACKED; }
static inline unsigned chdf5_P_CRT_ORDER_INDEXED(void) { return H5P_CRT_ORDER_INDEXED; }
static inline hid_t chdf5_P_ATTRIBUTE_CREATE(void) { return H5P_ATTRIBUTE_CREATE; }
static inline hid_t chdf5_P_DATASET_XFER(void) { return H5P_DATASET_XFER; }

// No file locks (libhdf5 1.10.7+; a no-op before). libhdf5 takes an flock on every file it
// opens, without O_CLOEXEC, so a child process started while a file is open (run --isolate,
// a test spawning the CLI) inherits the lock and keeps it until it exits: reopening the file
// then fails with "unable to lock file, errno = 11". rnnconf writes through a temporary file
// renamed into place, so it never needs libhdf5's single-writer locks.
static inline herr_t chdf5_disable_file_locking(hid_t fapl) {
#if H5_VERSION_GE(1, 10, 7)
  return H5Pset_file_locking(fapl, 0, 1);
#else
  (void)fapl;
  return 0;
#endif
}

#endif
