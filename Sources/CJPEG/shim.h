#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>
#include <libexif/exif-data.h>

/*
 * libjpeg-turbo (libjpeg 6.2 API) decoding and encoding, wrapped so Swift never sees setjmp/longjmp.
 *
 * libjpeg reports a fatal error by calling error_exit, which must not return: ours copies the
 * message and longjmps back into the phase function that called setjmp (each phase sets its own
 * target, so a longjmp never crosses a Swift frame). The default error_exit calls exit(), which a
 * library must never do. Warnings (corrupt data that libjpeg decodes around, a premature end of
 * file that it pads with gray) go through emit_message: ours counts them and keeps the first, so
 * the caller can refuse or report a damaged file instead of accepting it silently.
 *
 * Decoding has two phases, like CPNG: cjpeg_begin reads the header (markers for EXIF and ICC are
 * kept), picks the output colour space and DCT scale and computes the output size, so the caller
 * allocates the pixels once; cjpeg_finish decodes the rows into caller memory. After a successful
 * cjpeg_begin call cjpeg_finish or cjpeg_abort.
 */

#define CJPEG_MESSAGE_SIZE 200

typedef struct {
    struct jpeg_error_mgr base;   /* first member: libjpeg passes a pointer to it */
    jmp_buf jump;
    char message[CJPEG_MESSAGE_SIZE];
    int warnings;
    int first_warning_code;
    char first_warning[CJPEG_MESSAGE_SIZE];
} cjpeg_error;

static inline void cjpeg__error_exit(j_common_ptr info) {
    cjpeg_error *e = (cjpeg_error *)info->err;
    char text[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, text);
    snprintf(e->message, CJPEG_MESSAGE_SIZE, "%s", text);
    longjmp(e->jump, 1);
}

static inline void cjpeg__emit_message(j_common_ptr info, int level) {
    if (level >= 0) return;        /* trace messages */
    cjpeg_error *e = (cjpeg_error *)info->err;
    if (e->warnings == 0) {
        char text[JMSG_LENGTH_MAX];
        (*info->err->format_message)(info, text);
        snprintf(e->first_warning, CJPEG_MESSAGE_SIZE, "%s", text);
        e->first_warning_code = info->err->msg_code;
    }
    e->warnings += 1;
}

static inline void cjpeg__output_message(j_common_ptr info) { (void)info; }

static inline void cjpeg__install(cjpeg_error *e) {
    jpeg_std_error(&e->base);
    e->base.error_exit = cjpeg__error_exit;
    e->base.emit_message = cjpeg__emit_message;
    e->base.output_message = cjpeg__output_message;
    e->message[0] = 0;
    e->first_warning[0] = 0;
    e->warnings = 0;
    e->first_warning_code = 0;
}

typedef struct {
    /* Input. */
    const unsigned char *data;
    size_t size;
    int want_gray;                 /* 1: one channel out, else three (RGB) */
    unsigned int min_width;        /* DCT scaling: largest reduction keeping both sides >= these (0: none) */
    unsigned int min_height;
    unsigned int max_width;        /* refused above these, before any pixel memory is allocated */
    unsigned int max_height;
    size_t max_decoded_bytes;

    /* Output of cjpeg_begin. */
    unsigned int image_width;      /* as stored in the file */
    unsigned int image_height;
    unsigned int width;            /* after DCT scaling */
    unsigned int height;
    int channels;                  /* what cjpeg_finish writes: 1, 3, or 4 for CMYK */
    int source_color_space;        /* J_COLOR_SPACE of the file */
    int progressive;
    int adobe_inverted_cmyk;       /* CMYK/YCCK with an Adobe marker: values stored inverted */
    int scale_denom;               /* 1, 2, 4 or 8 */
    int orientation;               /* EXIF orientation 1...8 (1 when absent or unreadable) */
    int has_icc;
    size_t pixel_bytes;

    cjpeg_error error;
    int started;
    struct jpeg_decompress_struct info;
} cjpeg_decoded;

/* EXIF orientation from an APP1 "Exif\0\0" marker, read by libexif. */
static inline int cjpeg__orientation(j_decompress_ptr info) {
    for (jpeg_saved_marker_ptr m = info->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1 || m->data_length < 6 || memcmp(m->data, "Exif\0\0", 6) != 0) continue;
        ExifData *exif = exif_data_new_from_data(m->data, m->data_length);
        if (!exif) return 1;
        int value = 1;
        ExifEntry *entry = exif_data_get_entry(exif, EXIF_TAG_ORIENTATION);
        if (entry && entry->format == EXIF_FORMAT_SHORT && entry->components >= 1) {
            int v = exif_get_short(entry->data, exif_data_get_byte_order(exif));
            if (v >= 1 && v <= 8) value = v;
        }
        exif_data_unref(exif);
        return value;
    }
    return 1;
}

static inline int cjpeg__has_icc(j_decompress_ptr info) {
    for (jpeg_saved_marker_ptr m = info->marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 2 && m->data_length >= 12 && memcmp(m->data, "ICC_PROFILE\0", 12) == 0) return 1;
    }
    return 0;
}

static inline void cjpeg_abort(cjpeg_decoded *d) {
    if (d->started) jpeg_destroy_decompress(&d->info);
    d->started = 0;
}

/* Phase 1: 1 when the header was read (call cjpeg_finish or cjpeg_abort next), 0 on error
   (d->error.message set, nothing to free). */
static inline int cjpeg_begin(cjpeg_decoded *d) {
    d->started = 0;
    d->pixel_bytes = 0;
    d->orientation = 1;
    cjpeg__install(&d->error);
    if (d->size < 3 || d->data[0] != 0xFF || d->data[1] != 0xD8 || d->data[2] != 0xFF) {
        snprintf(d->error.message, CJPEG_MESSAGE_SIZE, d->size == 0 ? "not a JPEG file (empty file)" : "not a JPEG file (bad signature)");
        return 0;
    }
    d->info.err = &d->error.base;
    if (setjmp(d->error.jump)) {
        cjpeg_abort(d);
        return 0;
    }
    jpeg_create_decompress(&d->info);
    d->started = 1;
    jpeg_mem_src(&d->info, d->data, (unsigned long)d->size);
    jpeg_save_markers(&d->info, JPEG_APP0 + 1, 0xFFFF);
    jpeg_save_markers(&d->info, JPEG_APP0 + 2, 0xFFFF);
    jpeg_read_header(&d->info, TRUE);

    d->image_width = d->info.image_width;
    d->image_height = d->info.image_height;
    d->source_color_space = d->info.jpeg_color_space;
    d->progressive = d->info.progressive_mode ? 1 : 0;
    d->orientation = cjpeg__orientation(&d->info);
    d->has_icc = cjpeg__has_icc(&d->info);
    if (d->image_width > d->max_width || d->image_height > d->max_height) {
        snprintf(d->error.message, CJPEG_MESSAGE_SIZE, "image %ux%u exceeds the limit %ux%u",
                 d->image_width, d->image_height, d->max_width, d->max_height);
        cjpeg_abort(d);
        return 0;
    }
    switch (d->info.jpeg_color_space) {
    case JCS_CMYK:
    case JCS_YCCK:
        d->info.out_color_space = JCS_CMYK;    /* libjpeg turns YCCK into CMYK; Swift makes RGB */
        d->adobe_inverted_cmyk = d->info.saw_Adobe_marker ? 1 : 0;
        break;
    case JCS_GRAYSCALE:
        d->info.out_color_space = d->want_gray ? JCS_GRAYSCALE : JCS_RGB;
        break;
    default:
        d->info.out_color_space = d->want_gray ? JCS_GRAYSCALE : JCS_RGB;
        break;
    }
    /* The largest reduction (1/8, 1/4, 1/2) that keeps both sides at least the requested ones. */
    d->scale_denom = 1;
    if (d->min_width > 0 && d->min_height > 0) {
        for (int denom = 8; denom > 1; denom /= 2) {
            unsigned int w = (d->image_width + denom - 1) / denom, h = (d->image_height + denom - 1) / denom;
            if (w >= d->min_width && h >= d->min_height) { d->scale_denom = denom; break; }
        }
    }
    d->info.scale_num = 1;
    d->info.scale_denom = d->scale_denom;
    jpeg_calc_output_dimensions(&d->info);
    d->width = d->info.output_width;
    d->height = d->info.output_height;
    d->channels = d->info.output_components;
    size_t bytes = (size_t)d->width * d->height * (size_t)d->channels;
    if (d->width == 0 || d->height == 0 || bytes / d->width / d->height != (size_t)d->channels || bytes > d->max_decoded_bytes) {
        snprintf(d->error.message, CJPEG_MESSAGE_SIZE, "decoded image %ux%ux%d exceeds the decode limit",
                 d->width, d->height, d->channels);
        cjpeg_abort(d);
        return 0;
    }
    d->pixel_bytes = bytes;
    return 1;
}

/* Phase 2: decodes every row into `pixels` (d->pixel_bytes bytes). 1 on success, 0 on error. */
static inline int cjpeg_finish(cjpeg_decoded *d, unsigned char *pixels) {
    if (setjmp(d->error.jump)) {
        cjpeg_abort(d);
        return 0;
    }
    jpeg_start_decompress(&d->info);
    size_t stride = (size_t)d->info.output_width * d->info.output_components;
    while (d->info.output_scanline < d->info.output_height) {
        JSAMPROW row = pixels + (size_t)d->info.output_scanline * stride;
        jpeg_read_scanlines(&d->info, &row, 1);
    }
    jpeg_finish_decompress(&d->info);
    cjpeg_abort(d);
    return 1;
}

static inline int cjpeg_warning_is_truncation(const cjpeg_decoded *d) {
    return d->error.first_warning_code == JWRN_JPEG_EOF;
}

/* ---- Encoding (tests, fixtures and previews make their JPEGs with libjpeg too). ---- */

typedef struct {
    const unsigned char *pixels;   /* rows packed, `channels` bytes per pixel */
    unsigned int width;
    unsigned int height;
    int channels;                  /* 1 gray, 3 RGB, 4 CMYK (libjpeg writes an Adobe marker) */
    int quality;                   /* 1...100 */
    int progressive;
    int orientation;               /* 0: no EXIF; 1...8: an APP1 EXIF block made by libexif */
    const unsigned char *icc;      /* optional APP2 ICC_PROFILE payload (after the 14-byte header) */
    size_t icc_size;

    unsigned char *output;         /* malloc'ed by libjpeg; free with cjpeg_free */
    unsigned long output_size;
    cjpeg_error error;
    unsigned char *exif;           /* internal: kept here (not in a local) so the error path can free it */
} cjpeg_encoding;

static inline void cjpeg_free(void *p) { free(p); }

/* An EXIF APP1 payload ("Exif\0\0" + TIFF) holding only the orientation tag, made by libexif. */
static inline int cjpeg__exif_orientation(int orientation, unsigned char **out, unsigned int *size) {
    ExifData *exif = exif_data_new();
    if (!exif) return 0;
    exif_data_set_option(exif, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_set_byte_order(exif, EXIF_BYTE_ORDER_INTEL);
    ExifEntry *entry = exif_entry_new();
    exif_content_add_entry(exif->ifd[EXIF_IFD_0], entry);
    exif_entry_initialize(entry, EXIF_TAG_ORIENTATION);
    exif_set_short(entry->data, EXIF_BYTE_ORDER_INTEL, (ExifShort)orientation);
    exif_entry_unref(entry);
    exif_data_save_data(exif, out, size);
    exif_data_unref(exif);
    return *out != NULL;
}

static inline int cjpeg_encode(cjpeg_encoding *e) {
    struct jpeg_compress_struct info;
    unsigned int exif_size = 0;
    e->exif = NULL;
    e->output = NULL;
    e->output_size = 0;
    cjpeg__install(&e->error);
    info.err = &e->error.base;
    if (setjmp(e->error.jump)) {
        jpeg_destroy_compress(&info);
        free(e->exif);
        e->exif = NULL;
        free(e->output);
        e->output = NULL;
        return 0;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, &e->output, &e->output_size);
    info.image_width = e->width;
    info.image_height = e->height;
    info.input_components = e->channels;
    info.in_color_space = e->channels == 1 ? JCS_GRAYSCALE : (e->channels == 4 ? JCS_CMYK : JCS_RGB);
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, e->quality, TRUE);
    if (e->progressive) jpeg_simple_progression(&info);
    jpeg_start_compress(&info, TRUE);
    if (e->orientation >= 1 && e->orientation <= 8 && cjpeg__exif_orientation(e->orientation, &e->exif, &exif_size)) {
        /* libexif's block already starts with "Exif\0\0". */
        jpeg_write_marker(&info, JPEG_APP0 + 1, e->exif, exif_size);
    }
    if (e->icc && e->icc_size > 0 && e->icc_size < 65000) {
        unsigned char *block = malloc(e->icc_size + 14);
        if (block) {
            memcpy(block, "ICC_PROFILE\0\1\1", 14);
            memcpy(block + 14, e->icc, e->icc_size);
            jpeg_write_marker(&info, JPEG_APP0 + 2, block, (unsigned int)(e->icc_size + 14));
            free(block);
        }
    }
    size_t stride = (size_t)e->width * e->channels;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(e->pixels + (size_t)info.next_scanline * stride);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    free(e->exif);
    e->exif = NULL;
    return 1;
}
