#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Classic (low-level) libpng read, wrapped so Swift never sees setjmp/longjmp.
 *
 * Why not the simplified png_image_* API: it treats 16-bit samples as linear light and
 * converts them to sRGB when reducing to 8 bits (gray 0x8080 -> 186), which is wrong for
 * datasets. The classic API gives the stored samples unchanged; libpng still does all the
 * decoding (filters, inflate, Adam7, palette expansion, CRC checks).
 *
 * Two phases, so the caller can allocate the final pixel buffer once the size is known and
 * libpng writes straight into it (no intermediate copy): cpng_begin reads the header and sets
 * the transforms, cpng_finish decodes the rows into caller memory. After a successful
 * cpng_begin the caller must call cpng_finish or cpng_abort (both free libpng's structs).
 *
 * libpng reports errors by calling an error function that must not return. Ours copies the
 * message and longjmps back into the phase function that called setjmp (each phase sets its
 * own jump target, so a longjmp never crosses a Swift frame), which then frees everything and
 * returns an error. Everything that must survive the longjmp lives in caller-owned memory (the
 * cpng_decoded struct), never in non-volatile locals of the function that called setjmp.
 */

#define CPNG_MESSAGE_SIZE 200

typedef struct {
    /* Input: the PNG bytes and the limits/options. */
    const unsigned char *data;
    size_t size;
    size_t offset;
    unsigned int max_width;
    unsigned int max_height;
    size_t max_decoded_bytes;
    /* 1: turn a tRNS colour key (gray/RGB images) into an alpha channel as well.
       Palette tRNS always becomes alpha. */
    int color_key_to_alpha;

    /* Output of cpng_begin; rows are packed, no padding. */
    unsigned int width;
    unsigned int height;
    int channels;            /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (after the transforms) */
    int bit_depth;           /* 8 or 16; 16-bit samples are big-endian, as stored in the file */
    int source_color_type;   /* PNG colour type in IHDR (0, 2, 3, 4, 6) */
    int source_bit_depth;    /* bit depth in IHDR (1, 2, 4, 8, 16) */
    int interlaced;          /* 1 for Adam7 */
    size_t row_bytes;
    size_t pixel_bytes;      /* height * row_bytes: what cpng_finish writes */
    char message[CPNG_MESSAGE_SIZE];   /* set when cpng_decode_memory returns 0 */
    char last_warning[CPNG_MESSAGE_SIZE];

    /* Internal: libpng's structs between the phases, and the row pointers, kept here so the
       error path can free them after a longjmp. */
    png_structp png;
    png_infop info;
    unsigned char **rows;
} cpng_decoded;

static inline void cpng__on_error(png_structp png, png_const_charp msg) {
    cpng_decoded *d = (cpng_decoded *)png_get_error_ptr(png);
    const char *text = msg ? msg : "libpng error";
    /* png_check_IHDR says what is wrong only in warnings, then fails with a generic
       "Invalid IHDR data"; keep the specific reason (e.g. "Image width exceeds user limit"). */
    if (strncmp(text, "Invalid IHDR", 12) == 0 && d->last_warning[0]) {
        snprintf(d->message, CPNG_MESSAGE_SIZE, "%s (%s)", text, d->last_warning);
    } else {
        snprintf(d->message, CPNG_MESSAGE_SIZE, "%s", text);
    }
    longjmp(png_jmpbuf(png), 1);
}

/* Warnings (e.g. a bad CRC in an ancillary chunk, an odd iCCP profile) are not errors, and
   libpng's default handler would print them to stderr for every image of a dataset. The last
   one is kept for the IHDR error message above. */
static inline void cpng__on_warning(png_structp png, png_const_charp msg) {
    cpng_decoded *d = (cpng_decoded *)png_get_error_ptr(png);
    snprintf(d->last_warning, CPNG_MESSAGE_SIZE, "%s", msg ? msg : "");
}

static inline void cpng__read_memory(png_structp png, png_bytep out, size_t length) {
    cpng_decoded *d = (cpng_decoded *)png_get_io_ptr(png);
    if (length > d->size - d->offset) {
        png_error(png, "unexpected end of file (truncated PNG)");
    }
    memcpy(out, d->data + d->offset, length);
    d->offset += length;
}

/* Frees libpng's structs and the row pointers; safe to call twice. */
static inline void cpng_abort(cpng_decoded *d) {
    free(d->rows);
    d->rows = NULL;
    if (d->png) png_destroy_read_struct(&d->png, d->info ? &d->info : NULL, NULL);
    d->png = NULL;
    d->info = NULL;
}

/* Phase 1. Returns 1 when the header was read (width, height, channels, bit_depth, row_bytes,
   pixel_bytes set; call cpng_finish or cpng_abort next), 0 on error (d->message set, nothing
   to free). */
static inline int cpng_begin(cpng_decoded *d) {
    d->png = NULL;
    d->info = NULL;
    d->rows = NULL;
    d->row_bytes = 0;
    d->pixel_bytes = 0;
    d->offset = 0;
    d->message[0] = 0;
    d->last_warning[0] = 0;

    if (d->size < 8 || png_sig_cmp(d->data, 0, 8) != 0) {
        if (d->size >= 3 && d->data[0] == 0xFF && d->data[1] == 0xD8 && d->data[2] == 0xFF) {
            snprintf(d->message, CPNG_MESSAGE_SIZE, "not a PNG file (it is a JPEG)");
        } else if (d->size == 0) {
            snprintf(d->message, CPNG_MESSAGE_SIZE, "not a PNG file (empty file)");
        } else {
            snprintf(d->message, CPNG_MESSAGE_SIZE, "not a PNG file (bad signature)");
        }
        return 0;
    }

    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, cpng__on_error, cpng__on_warning);
    if (!d->png) {
        snprintf(d->message, CPNG_MESSAGE_SIZE, "libpng: cannot create read struct (out of memory?)");
        return 0;
    }
    d->info = png_create_info_struct(d->png);
    if (!d->info) {
        cpng_abort(d);
        snprintf(d->message, CPNG_MESSAGE_SIZE, "libpng: cannot create info struct (out of memory?)");
        return 0;
    }
    if (setjmp(png_jmpbuf(d->png))) {
        cpng_abort(d);
        return 0;
    }
    png_structp png = d->png;
    png_infop info = d->info;

    png_set_read_fn(png, d, cpng__read_memory);
    png_set_user_limits(png, d->max_width, d->max_height);
#ifdef PNG_HANDLE_AS_UNKNOWN_SUPPORTED
    /* No colour management here, so skip iCCP: libpng would inflate and validate every embedded
       profile (many photo datasets carry one per file). The chunk's CRC is still checked. */
    static const png_byte skip_chunks[] = { 'i', 'C', 'C', 'P', '\0' };
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skip_chunks, 1);
#endif
#if defined(PNG_SET_OPTION_SUPPORTED) && defined(PNG_IGNORE_ADLER32)
    /* The image data stays protected by every IDAT chunk's CRC-32 (checked, errors fatal); the
       zlib Adler-32 over the same bytes is redundant work. */
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
    png_read_info(png, info);

    d->source_color_type = png_get_color_type(png, info);
    d->source_bit_depth = png_get_bit_depth(png, info);
    d->interlaced = png_get_interlace_type(png, info) == PNG_INTERLACE_ADAM7;

    int has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
    if (d->source_color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
        if (has_trns) png_set_tRNS_to_alpha(png);
    } else if (has_trns && d->color_key_to_alpha) {
        png_set_tRNS_to_alpha(png);   /* also expands 1/2/4-bit gray to 8 bits */
    }
    if (d->source_color_type == PNG_COLOR_TYPE_GRAY && d->source_bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    d->width = png_get_image_width(png, info);
    d->height = png_get_image_height(png, info);
    d->channels = png_get_channels(png, info);
    d->bit_depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    size_t packed = (size_t)d->width * (size_t)d->channels * (size_t)(d->bit_depth / 8);
    if (row_bytes != packed || (d->bit_depth != 8 && d->bit_depth != 16)) {
        png_error(png, "unexpected row layout after transforms");
    }
    /* Checked before the caller allocates, so a small file claiming a huge image cannot exhaust memory. */
    if (d->height != 0 && row_bytes > d->max_decoded_bytes / d->height) {
        png_error(png, "decoded image would exceed the memory limit");
    }
    d->row_bytes = row_bytes;
    d->pixel_bytes = row_bytes * d->height;
    return 1;
}

/* Phase 2: decodes the rows into `pixels` (d->pixel_bytes bytes, caller-owned) and frees libpng's
   structs. Returns 1 on success, 0 on error (d->message set; `pixels` partly written). */
static inline int cpng_finish(cpng_decoded *d, unsigned char *pixels) {
    if (!d->png) {
        snprintf(d->message, CPNG_MESSAGE_SIZE, "libpng: decoder not started");
        return 0;
    }
    if (setjmp(png_jmpbuf(d->png))) {
        cpng_abort(d);
        return 0;
    }
    d->rows = (unsigned char **)malloc(sizeof(unsigned char *) * (d->height ? d->height : 1));
    if (!d->rows) png_error(d->png, "out of memory");
    for (unsigned int y = 0; y < d->height; y++) d->rows[y] = pixels + (size_t)y * d->row_bytes;

    png_read_image(d->png, d->rows);
    /* Strict: also reads the chunks after the image data up to IEND (a file cut after its
       image data fails here, as in libpng's own low-level reader). */
    png_read_end(d->png, NULL);
    cpng_abort(d);
    return 1;
}
