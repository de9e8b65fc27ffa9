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
 * libpng reports errors by calling an error function that must not return. Ours copies the
 * message and longjmps back into cpng_decode_memory, which then frees everything and returns
 * an error. Everything that must survive the longjmp lives in caller-owned memory (the
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

    /* Output. pixels is malloc'd (free with cpng_free_pixels); rows are packed, no padding. */
    unsigned int width;
    unsigned int height;
    int channels;            /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (after the transforms) */
    int bit_depth;           /* 8 or 16; 16-bit samples are big-endian, as stored in the file */
    int source_color_type;   /* PNG colour type in IHDR (0, 2, 3, 4, 6) */
    int source_bit_depth;    /* bit depth in IHDR (1, 2, 4, 8, 16) */
    int interlaced;          /* 1 for Adam7 */
    unsigned char *pixels;
    size_t pixel_bytes;
    char message[CPNG_MESSAGE_SIZE];   /* set when cpng_decode_memory returns 0 */
    char last_warning[CPNG_MESSAGE_SIZE];

    /* Internal: row pointers, kept here so the error path can free them after a longjmp. */
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

static inline void cpng_free_pixels(cpng_decoded *d) {
    free(d->pixels);
    d->pixels = NULL;
    d->pixel_bytes = 0;
}

/* Returns 1 on success (d->pixels set), 0 on error (d->message set, nothing to free). */
static inline int cpng_decode_memory(cpng_decoded *d) {
    d->pixels = NULL;
    d->rows = NULL;
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

    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, cpng__on_error, cpng__on_warning);
    if (!png) {
        snprintf(d->message, CPNG_MESSAGE_SIZE, "libpng: cannot create read struct (out of memory?)");
        return 0;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        snprintf(d->message, CPNG_MESSAGE_SIZE, "libpng: cannot create info struct (out of memory?)");
        return 0;
    }
    /* png and info are not modified after setjmp, so they are valid on the error path. */
    if (setjmp(png_jmpbuf(png))) {
        free(d->rows);
        d->rows = NULL;
        free(d->pixels);
        d->pixels = NULL;
        d->pixel_bytes = 0;
        png_destroy_read_struct(&png, &info, NULL);
        return 0;
    }

    png_set_read_fn(png, d, cpng__read_memory);
    png_set_user_limits(png, d->max_width, d->max_height);
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
    /* Checked before allocating, so a small file claiming a huge image cannot exhaust memory. */
    if (d->height != 0 && row_bytes > d->max_decoded_bytes / d->height) {
        png_error(png, "decoded image would exceed the memory limit");
    }
    d->pixel_bytes = row_bytes * d->height;
    d->pixels = (unsigned char *)malloc(d->pixel_bytes ? d->pixel_bytes : 1);
    d->rows = (unsigned char **)malloc(sizeof(unsigned char *) * (d->height ? d->height : 1));
    if (!d->pixels || !d->rows) png_error(png, "out of memory");
    for (unsigned int y = 0; y < d->height; y++) d->rows[y] = d->pixels + (size_t)y * row_bytes;

    png_read_image(png, d->rows);
    /* Strict: also reads the chunks after the image data up to IEND (a file cut after its
       image data fails here, as in libpng's own low-level reader). */
    png_read_end(png, NULL);

    free(d->rows);
    d->rows = NULL;
    png_destroy_read_struct(&png, &info, NULL);
    return 1;
}
