/* rnnhost SDK: weights files in the safetensors format: an 8-byte little-endian header length, a JSON
 * header ({"__metadata__": {string: string}, "name": {"dtype", "shape", "data_offsets"}, ...}) and the
 * raw little-endian tensor bytes. Presets, exports and checkpoints all use it.
 *
 * Weights are data, never code: the reader checks every length, offset, dtype and shape before use and
 * allocates nothing larger than the file itself justifies. The writer is atomic: a temp file in the same
 * directory, fsync, rename over the target, fsync of the directory; on failure the target is untouched.
 * rh_weights_write_fd writes the same bytes to a descriptor, for a caller with its own rule for outputs. */
#ifndef RNNHOST_WEIGHTS_H
#define RNNHOST_WEIGHTS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types and their safetensors names. F16 is IEEE 754 binary16 (half precision): presets stored in
 * it take half the space, and rh_weights_load_tensors widens it to float on load. */
enum {
    RH_DTYPE_F32 = 0, /* "F32", 4 bytes */
    RH_DTYPE_I32 = 1, /* "I32", 4 bytes */
    RH_DTYPE_U64 = 2, /* "U64", 8 bytes */
    RH_DTYPE_U8 = 3,  /* "U8", 1 byte */
    RH_DTYPE_F16 = 4  /* "F16", 2 bytes; data is uint16_t bit patterns */
};

/* One named array, to write or as read. */
typedef struct rh_blob {
    const char *name;            /* unique in the file, 1..255 bytes, not "__metadata__" */
    uint32_t dtype;              /* RH_DTYPE_* */
    uint32_t ndim;               /* 0 .. RH_MAX_DIMS (0 is a scalar) */
    uint64_t shape[RH_MAX_DIMS]; /* entries past ndim are 0 */
    const void *data;            /* product(shape) elements in host byte order */
} rh_blob;

typedef struct rh_meta {
    const char *key;   /* UTF-8 */
    const char *value; /* UTF-8; numbers and lists are written as their JSON text */
} rh_meta;

/* Bytes of one element of dtype; 0 for an unknown dtype. */
size_t rh_dtype_size(uint32_t dtype);

/* Nearest half to x, ties to even, as a binary16 bit pattern. Magnitudes that round past 65504 (the
 * largest half) become infinity of x's sign; NaN stays NaN (quiet, keeping the top of the payload); values
 * below the normal range become subnormals or a zero of x's sign. Pure function, any thread. */
uint16_t rh_f32_to_f16(float x);

/* The float equal to half h. Exact: every half, subnormals and infinities included, is a float; a NaN
 * half gives a NaN. Pure function, any thread. */
float rh_f16_to_f32(uint16_t h);

/* The blob describing tensor t of a parameter-layout buffer (params, gradients or a moment slot). */
rh_blob rh_blob_from_tensor(const rh_tensor *t, const float *buffer);

/* Writes a safetensors file atomically. A symbolic link at path is followed: the link stays and the file
 * it points to is replaced. A device or FIFO (after the links) cannot be replaced and is written directly.
 * On failure returns RH_ERR_IO (with errno's text) or RH_ERR_INVALID_ARGUMENT and writes one line into err;
 * a regular file at path is then as it was before. */
rh_status rh_weights_write(const char *path, const rh_meta *meta, uint32_t num_meta, const rh_blob *blobs,
                           uint32_t num_blobs, char *err, size_t err_len);

/* The same file written to fd from its current position, for a caller that decides itself where weights go
 * (a temporary file it renames, a pipe, standard output). The caller owns fd: it is neither synced nor
 * closed. On failure returns RH_ERR_IO ("cannot write: REASON") or RH_ERR_INVALID_ARGUMENT with one line
 * in err; what was written before a failed write stays written. */
rh_status rh_weights_write_fd(int fd, const rh_meta *meta, uint32_t num_meta, const rh_blob *blobs,
                              uint32_t num_blobs, char *err, size_t err_len);

typedef struct rh_weights rh_weights; /* a validated file in memory */

/* Reads and validates a file (path "-" is not special here: the host handles stdin). On failure returns
 * RH_ERR_IO or RH_ERR_FORMAT, leaves *out NULL and writes one line into err naming what is wrong. */
rh_status rh_weights_open(rh_weights **out, const char *path, char *err, size_t err_len);

/* The same from bytes in memory (copied; data may be freed afterwards). For fuzzing and embedded files. */
rh_status rh_weights_from_memory(rh_weights **out, const void *data, size_t size, char *err, size_t err_len);

void rh_weights_close(rh_weights *w);

/* Metadata value for key, or NULL. Owned by w. */
const char *rh_weights_meta(const rh_weights *w, const char *key);
uint32_t rh_weights_meta_count(const rh_weights *w);
/* Key and value of metadata entry index; RH_ERR_INVALID_ARGUMENT past the end. */
rh_status rh_weights_meta_at(const rh_weights *w, uint32_t index, const char **key, const char **value);

/* Arrays in the file, in file order. get fills out with pointers owned by w (data aligned for dtype). */
uint32_t rh_weights_count(const rh_weights *w);
rh_status rh_weights_get(const rh_weights *w, uint32_t index, rh_blob *out);
/* Index of the array called name, or -1. */
int32_t rh_weights_find(const rh_weights *w, const char *name);

/* Copies every tensor of a parameter layout from arrays called prefix + tensor name (prefix may be NULL)
 * into buffer. Each must exist, be F32 or F16 (widened to float), have exactly the tensor's shape and hold
 * only finite numbers (an F16 infinity or NaN is non-finite too); otherwise RH_ERR_SHAPE / RH_ERR_FORMAT /
 * RH_ERR_NOT_FINITE with the tensor named in err, and buffer may be partly written. Arrays the layout does
 * not name are ignored (the caller checks the metadata). */
rh_status rh_weights_load_tensors(const rh_weights *w, float *buffer, const rh_tensor *tensors,
                                  uint32_t num_tensors, const char *prefix, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_WEIGHTS_H */
