#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

/* libjpeg reports fatal errors by calling error_exit, which must not return; Swift cannot
 * longjmp, so the setjmp/longjmp pair lives here, in small C helpers that each run a whole
 * libjpeg session inside one C frame. Each returns 0 on success or -1 with a one-line reason
 * in `message` (at least JMSG_LENGTH_MAX bytes). */

struct digitd_jpeg_error {
    struct jpeg_error_mgr manager; /* must be first: libjpeg casts err to this */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int truncated;                 /* set by the "premature end of data" warning */
};

static inline void digitd_jpeg_error_exit(j_common_ptr info) {
    struct digitd_jpeg_error *error = (struct digitd_jpeg_error *)info->err;
    (*info->err->format_message)(info, error->message);
    longjmp(error->jump, 1);
}

/* Warnings are not printed; a truncated stream is remembered so the caller can refuse it. */
static inline void digitd_jpeg_emit_message(j_common_ptr info, int level) {
    struct digitd_jpeg_error *error = (struct digitd_jpeg_error *)info->err;
    if (level < 0) {
        info->err->num_warnings++;
        if (info->err->msg_code == JWRN_JPEG_EOF) error->truncated = 1;
    }
}

static inline void digitd_jpeg_init_error(struct digitd_jpeg_error *error) {
    jpeg_std_error(&error->manager);
    error->manager.error_exit = digitd_jpeg_error_exit;
    error->manager.emit_message = digitd_jpeg_emit_message;
    error->message[0] = 0;
    error->truncated = 0;
}

/* Reads only the header: size and number of components. */
static inline int digitd_jpeg_read_size(const unsigned char *data, unsigned long size,
                                        int *width, int *height, int *components, char *message) {
    struct jpeg_decompress_struct info;
    struct digitd_jpeg_error error;
    info.err = NULL;
    digitd_jpeg_init_error(&error);
    info.err = &error.manager;
    if (setjmp(error.jump)) {
        strncpy(message, error.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        jpeg_destroy_decompress(&info);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    *width = (int)info.image_width;
    *height = (int)info.image_height;
    *components = info.num_components;
    jpeg_destroy_decompress(&info);
    return 0;
}

/* Decodes into `output` (width*height bytes if gray, else width*height*3 RGB), which the
 * caller sized from digitd_jpeg_read_size. A truncated stream is an error. */
static inline int digitd_jpeg_decode(const unsigned char *data, unsigned long size, int gray,
                                     unsigned char *output, int width, int height, char *message) {
    struct jpeg_decompress_struct info;
    struct digitd_jpeg_error error;
    digitd_jpeg_init_error(&error);
    info.err = &error.manager;
    if (setjmp(error.jump)) {
        strncpy(message, error.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        jpeg_destroy_decompress(&info);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, size);
    jpeg_read_header(&info, TRUE);
    if ((int)info.image_width != width || (int)info.image_height != height) {
        strcpy(message, "image size changed between reads");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    info.out_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)width * (gray ? 1 : 3);
    while (info.output_scanline < info.output_height) {
        JSAMPROW rows[16];
        int n = 0;
        while (n < 16 && info.output_scanline + n < info.output_height) {
            rows[n] = output + (size_t)(info.output_scanline + n) * stride;
            n++;
        }
        jpeg_read_scanlines(&info, rows, (JDIMENSION)n);
        if (error.truncated) break;
    }
    if (error.truncated) {
        strcpy(message, "truncated JPEG data (premature end of file)");
        jpeg_destroy_decompress(&info);
        return -1;
    }
    jpeg_finish_decompress(&info);
    jpeg_destroy_decompress(&info);
    return 0;
}

/* Encodes 1 (gray) or 3 (RGB) components; *output is malloc'd by libjpeg, the caller frees it. */
static inline int digitd_jpeg_encode(const unsigned char *pixels, int width, int height, int components,
                                     int quality, unsigned char **output, unsigned long *outputSize,
                                     char *message) {
    struct jpeg_compress_struct info;
    struct digitd_jpeg_error error;
    digitd_jpeg_init_error(&error);
    info.err = &error.manager;
    *output = NULL;
    *outputSize = 0;
    if (setjmp(error.jump)) {
        strncpy(message, error.message, JMSG_LENGTH_MAX - 1);
        message[JMSG_LENGTH_MAX - 1] = 0;
        jpeg_destroy_compress(&info);
        if (*output) { free(*output); *output = NULL; }
        return -1;
    }
    jpeg_create_compress(&info);
    jpeg_mem_dest(&info, output, outputSize);
    info.image_width = (JDIMENSION)width;
    info.image_height = (JDIMENSION)height;
    info.input_components = components;
    info.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&info);
    jpeg_set_quality(&info, quality, TRUE);
    jpeg_start_compress(&info, TRUE);
    size_t stride = (size_t)width * components;
    while (info.next_scanline < info.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info.next_scanline * stride);
        jpeg_write_scanlines(&info, &row, 1);
    }
    jpeg_finish_compress(&info);
    jpeg_destroy_compress(&info);
    return 0;
}
