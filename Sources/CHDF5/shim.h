#include <hdf5.h>
// Macros Swift cannot import (they call H5open()): exposed as static inline functions.
static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }
static inline unsigned chdf5_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned chdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_p_link_create(void) { return H5P_LINK_CREATE; }
static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
typedef int (*chdf5_visit_fn)(const char *name, int is_group, int is_dataset, void *ctx);
typedef struct { chdf5_visit_fn fn; void *ctx; } chdf5_visit_ctx;
#if H5_VERSION_GE(1, 12, 0)
static herr_t chdf5__ovisit_cb(hid_t o, const char *name, const H5O_info2_t *info, void *d) {
#else
static herr_t chdf5__ovisit_cb(hid_t o, const char *name, const H5O_info_t *info, void *d) {
#endif
    (void)o; chdf5_visit_ctx *c = d;
    return c->fn(name, info->type == H5O_TYPE_GROUP, info->type == H5O_TYPE_DATASET, c->ctx);
}
static inline herr_t chdf5_ovisit(hid_t loc, chdf5_visit_fn fn, void *ctx) {
    chdf5_visit_ctx c = { fn, ctx };
#if H5_VERSION_GE(1, 12, 0)
    return H5Ovisit3(loc, H5_INDEX_NAME, H5_ITER_INC, chdf5__ovisit_cb, &c, H5O_INFO_BASIC);
#else
    return H5Ovisit2(loc, H5_INDEX_NAME, H5_ITER_INC, chdf5__ovisit_cb, &c, H5O_INFO_BASIC);
#endif
}

// ---- Added for WeightIO (file-format layer) ----
#include <string.h>
static inline hid_t chdf5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t chdf5_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t chdf5_native_int8(void) { return H5T_NATIVE_INT8; }
static inline size_t chdf5_variable_size(void) { return H5T_VARIABLE; }

/// Turns off HDF5's automatic error-stack printing for the calling thread (thread-safe builds keep it per thread).
/// Also, before the library's first use, turns off its clean-up at exit: after a failed write (a full
/// disk) that clean-up retries closing the file and crashes (SIGSEGV in H5F__close_cb). Graft closes
/// every file it writes explicitly, so nothing is lost.
static inline herr_t chdf5_silence_errors(void) {
    static int atexit_off = 0;
    if (!atexit_off) { atexit_off = 1; H5dont_atexit(); }
    return H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/// Kind (1 group, 2 dataset, 0 other) and object-header address of `loc/name`. Returns -1 on failure.
/// The address orders objects by creation in files written once (h5py, Caffe): used to recover layer order.
static inline int chdf5_object_info(hid_t loc, const char *name, unsigned long long *addr) {
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    if (H5Oget_info_by_name3(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
    haddr_t a = 0; memcpy(&a, &info.token, sizeof(a) < sizeof(info.token) ? sizeof(a) : sizeof(info.token));
    *addr = (unsigned long long)a;
#else
    H5O_info_t info;
    if (H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return -1;
    *addr = (unsigned long long)info.addr;
#endif
    return info.type == H5O_TYPE_GROUP ? 1 : (info.type == H5O_TYPE_DATASET ? 2 : 0);
}

/// Calls fn(name, ctx) for every link of group `loc`, in name order (a non-zero return stops the walk).
typedef int (*chdf5_name_fn)(const char *name, void *ctx);
typedef struct { chdf5_name_fn fn; void *ctx; } chdf5_name_ctx;
#if H5_VERSION_GE(1, 12, 0)
static herr_t chdf5__literate_cb(hid_t g, const char *name, const H5L_info2_t *info, void *d) {
#else
static herr_t chdf5__literate_cb(hid_t g, const char *name, const H5L_info_t *info, void *d) {
#endif
    (void)g; (void)info; chdf5_name_ctx *c = d; return c->fn(name, c->ctx);
}
static inline herr_t chdf5_iterate_links(hid_t loc, chdf5_name_fn fn, void *ctx) {
    chdf5_name_ctx c = { fn, ctx }; hsize_t idx = 0;
#if H5_VERSION_GE(1, 12, 0)
    return H5Literate2(loc, H5_INDEX_NAME, H5_ITER_INC, &idx, chdf5__literate_cb, &c);
#else
    return H5Literate(loc, H5_INDEX_NAME, H5_ITER_INC, &idx, chdf5__literate_cb, &c);
#endif
}

/// Calls fn(name, ctx) for every attribute of object `loc`, in name order.
static herr_t chdf5__aiterate_cb(hid_t loc, const char *name, const H5A_info_t *info, void *d) {
    (void)loc; (void)info; chdf5_name_ctx *c = d; return c->fn(name, c->ctx);
}
static inline herr_t chdf5_iterate_attributes(hid_t loc, chdf5_name_fn fn, void *ctx) {
    chdf5_name_ctx c = { fn, ctx }; hsize_t idx = 0;
    return H5Aiterate2(loc, H5_INDEX_NAME, H5_ITER_INC, &idx, chdf5__aiterate_cb, &c);
}

/// Copies the most specific message of the calling thread's HDF5 error stack into buf ("" when empty).
typedef struct { char *buf; size_t len; } chdf5_err_buf;
static herr_t chdf5__ewalk_cb(unsigned n, const H5E_error2_t *err, void *d) {
    chdf5_err_buf *b = d;
    if (n == 0 && err && err->desc && b->len > 0) { strncpy(b->buf, err->desc, b->len - 1); b->buf[b->len - 1] = 0; }
    return 0;
}
static inline void chdf5_last_error(char *buf, size_t len) {
    if (len == 0) return;
    buf[0] = 0;
    chdf5_err_buf b = { buf, len };
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, chdf5__ewalk_cb, &b);
}
