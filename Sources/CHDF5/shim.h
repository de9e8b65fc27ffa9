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
