// What Swift cannot import from hdf5.h: library globals hidden behind
// macros (H5T_NATIVE_FLOAT expands to H5OPEN H5T_NATIVE_FLOAT_g) and
// function-like macros. Each is exposed as a static inline function.
#ifndef RNNCONF_CHDF5_SHIM_H
#define RNNCONF_CHDF5_SHIM_H

#include <hdf5.h>
#include <string.h>

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

// Raw variable-length string descriptors (see Sources/HDF5/GlobalHeap.swift). libhdf5 1.10 trusts
// a vlen string's stored length and global-heap reference: a corrupt one makes H5Aread/H5Dread
// allocate and zero up to 4 GiB per string (H5T__conv_vlen), loop forever or fault (H5HG_read,
// which only asserts the heap index and the collection's object sizes). Reading into an opaque
// memory type tagged CHDF5_RAW_VLEN_TAG through this conversion hands back the descriptors as
// stored in the file (length, heap address, heap index) without touching the global heap, so
// rnnconf can check them against the file and read the strings itself.
#define CHDF5_RAW_VLEN_TAG "rnnconf raw vlen descriptor"
static inline const char *chdf5_raw_vlen_tag(void) { return CHDF5_RAW_VLEN_TAG; }

static inline herr_t chdf5_conv_raw_vlen(hid_t src_id, hid_t dst_id, H5T_cdata_t *cdata, size_t nelmts,
                                         size_t buf_stride, size_t bkg_stride, void *buf, void *bkg,
                                         hid_t dxpl) {
  (void)nelmts; (void)buf_stride; (void)bkg_stride; (void)buf; (void)bkg; (void)dxpl;
  switch (cdata->command) {
  case H5T_CONV_INIT: {
    if (H5Tget_class(dst_id) != H5T_OPAQUE || H5Tis_variable_str(src_id) <= 0) return -1;
    char *tag = H5Tget_tag(dst_id);
    int ok = tag != NULL && strcmp(tag, CHDF5_RAW_VLEN_TAG) == 0;
    if (tag != NULL) H5free_memory(tag);
    if (!ok) return -1;
    cdata->need_bkg = H5T_BKG_NO;
    return 0;
  }
  case H5T_CONV_CONV:
    // The source is the type as stored in the file (4-byte length, heap address, 4-byte index);
    // the destination has the same size, so the buffer already holds the answer.
    return H5Tget_size(src_id) == H5Tget_size(dst_id) ? 0 : -1;
  case H5T_CONV_FREE:
    return 0;
  default:
    return -1;
  }
}

// Registers chdf5_conv_raw_vlen as a soft conversion from variable-length strings to opaque types
// (its init accepts only the tagged opaque type). Once per process.
static inline herr_t chdf5_register_raw_vlen(void) {
  hid_t src = H5Tcopy(H5T_C_S1);
  hid_t dst = H5Tcreate(H5T_OPAQUE, 16);
  herr_t status = -1;
  if (src >= 0 && dst >= 0 && H5Tset_size(src, H5T_VARIABLE) >= 0 && H5Tset_tag(dst, CHDF5_RAW_VLEN_TAG) >= 0)
    status = H5Tregister(H5T_PERS_SOFT, "rnnconf raw vlen", src, dst, chdf5_conv_raw_vlen);
  if (src >= 0) H5Tclose(src);
  if (dst >= 0) H5Tclose(dst);
  return status;
}

// File drivers whose bytes rnnconf can read directly (H5Fget_vfd_handle: an int * for sec2,
// an unsigned char ** for core).
static inline hid_t chdf5_FD_SEC2(void) { return H5FD_SEC2; }
static inline hid_t chdf5_FD_CORE(void) { return H5FD_CORE; }

#endif
