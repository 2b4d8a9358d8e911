/* safetensors reading and writing. The reader treats the file as hostile: every length, offset, dtype and
 * shape is checked before use, and nothing is allocated beyond what the file's real size justifies. The
 * writer replaces its target atomically (temp file, fsync, rename, fsync of the directory). */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "rnnhost/halfstep.h"
#include "rnnhost/weights.h"

#define MAX_HEADER_BYTES (100u * 1000u * 1000u) // the limit the safetensors reference reader uses
#define MAX_BLOB_NAME 255
#define MAX_SAFE_INTEGER 9007199254740992.0 // 2^53: larger JSON numbers are not exact doubles
#define METADATA_KEY "__metadata__"

typedef struct {
    char *name;
    uint32_t dtype;
    uint32_t ndim;
    uint64_t shape[RH_MAX_DIMS];
    uint64_t begin, end; // byte offsets into the file's data section
    uint64_t at;         // byte offset into rh_weights.data, a multiple of 8
} entry;

struct rh_weights {
    uint32_t num_meta;
    char **meta_keys;
    char **meta_values;
    uint32_t count;
    entry *entries;  // file order
    uint32_t *order; // entry indices by data offset: the order their bytes appear in the file
    // The data section, each tensor moved to a multiple of 8: safetensors packs tensors back to back, so
    // a U64 after a U8 would otherwise be misaligned. The padding is at most 7 bytes per tensor, fewer
    // than its header entry takes, so the allocation stays within what the file size justifies.
    uint8_t *data;
    uint64_t data_size; // bytes in the file's data section
    uint64_t alloc_size;
};

static const char *const dtype_names[] = {"F32", "I32", "U64", "U8", "F16"};

size_t rh_dtype_size(uint32_t dtype)
{
    switch (dtype) {
    case RH_DTYPE_F32: return 4;
    case RH_DTYPE_I32: return 4;
    case RH_DTYPE_U64: return 8;
    case RH_DTYPE_U8: return 1;
    case RH_DTYPE_F16: return 2;
    default: return 0;
    }
}

rh_blob rh_blob_from_tensor(const rh_tensor *t, const float *buffer)
{
    rh_blob b;
    memset(&b, 0, sizeof b);
    b.name = t->name;
    b.dtype = RH_DTYPE_F32;
    b.ndim = t->ndim <= RH_MAX_DIMS ? t->ndim : RH_MAX_DIMS;
    for (uint32_t d = 0; d < b.ndim; d++)
        b.shape[d] = t->shape[d];
    b.data = buffer + t->offset;
    return b;
}

/* ---- half precision ---- */

// m >> s rounded to nearest, ties to even; 1 <= s <= 31.
static uint32_t shift_round_even(uint32_t m, unsigned s)
{
    const uint32_t q = m >> s, rest = m & ((1u << s) - 1), half = 1u << (s - 1);
    return q + (rest > half || (rest == half && (q & 1u)));
}

uint16_t rh_f32_to_f16(float x)
{
    uint32_t f;
    memcpy(&f, &x, sizeof f);
    const uint32_t sign = (f >> 16) & 0x8000u;
    const uint32_t exp = (f >> 23) & 0xffu;
    const uint32_t man = f & 0x7fffffu;
    // The quiet bit keeps a NaN a NaN when its payload lives only in the low bits dropped here.
    if (exp == 0xffu)
        return (uint16_t)(sign | 0x7c00u | (man ? 0x200u | (man >> 13) : 0));
    const int e = (int)exp - 127 + 15; // the half's biased exponent
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00u);
    // A carry out of the rounded mantissa moves into the exponent, which is exactly right: 65520 and up
    // carry into infinity.
    if (e >= 1)
        return (uint16_t)(sign | (((uint32_t)e << 10) + shift_round_even(man, 13)));
    // Subnormal half: the value is k * 2^-24 with k = (2^23 + man) * 2^(exp - 126), a right shift. Below
    // 2^-25 (shift > 24) k rounds to 0; float subnormals are far below that. k may round up to 1024, which
    // is the bit pattern of the smallest normal half, as it should be.
    const unsigned shift = 126u - exp;
    if (shift > 24)
        return (uint16_t)sign;
    return (uint16_t)(sign | shift_round_even(man | 0x800000u, shift));
}

float rh_f16_to_f32(uint16_t h)
{
    return rh_half_to_float(h);
}

/* ---- small helpers ---- */

static rh_status fail(rh_status status, char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
        // Names come from hostile files: never let one break the "one line" promise.
        for (char *c = err; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
    }
    return status;
}

// A name from the file, cut and made printable, for error messages.
static const char *printable(char out[64], const char *name)
{
    size_t i = 0;
    for (; name[i] && i < 60; i++)
        out[i] = (name[i] >= 0x20 && name[i] < 0x7f) ? name[i] : '?';
    if (name[i]) {
        out[i - 3] = out[i - 2] = out[i - 1] = '.';
    }
    out[i] = '\0';
    return out;
}

static const char *errno_text(char *buf, size_t len, int code)
{
    if (strerror_r(code, buf, len) != 0)
        snprintf(buf, len, "error %d", code);
    return buf;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    return first == 1;
}

// Reverses every element of n elements of size bytes in place (size 1 is a no-op).
static void swap_elements(uint8_t *p, uint64_t n, size_t size)
{
    if (size <= 1)
        return;
    for (uint64_t i = 0; i < n; i++, p += size)
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            uint8_t t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static uint64_t read_le64(const uint8_t b[8])
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

void rh_weights_close(rh_weights *w)
{
    if (!w)
        return;
    for (uint32_t i = 0; i < w->num_meta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->meta_keys);
    free(w->meta_values);
    for (uint32_t i = 0; i < w->count; i++)
        free(w->entries[i].name);
    free(w->entries);
    free(w->order);
    free(w->data);
    free(w);
}

/* ---- reader ---- */

static int cmp_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

// The first key that appears twice among an object's members, or NULL. cJSON keeps duplicates.
static const char *duplicate_key(const cJSON *object, rh_status *status)
{
    size_t n = 0;
    for (const cJSON *c = object->child; c; c = c->next)
        n++;
    if (n < 2)
        return NULL;
    const char **keys = malloc(n * sizeof *keys);
    if (!keys) {
        *status = RH_ERR_NO_MEMORY;
        return NULL;
    }
    size_t i = 0;
    for (const cJSON *c = object->child; c; c = c->next)
        keys[i++] = c->string ? c->string : "";
    qsort(keys, n, sizeof *keys, cmp_strings);
    const char *dup = NULL;
    for (i = 1; i < n && !dup; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            dup = keys[i];
    free(keys);
    return dup;
}

// A JSON number that is an exact non-negative integer; 0 when it is not.
static int json_u64(const cJSON *item, uint64_t *out)
{
    if (!cJSON_IsNumber(item))
        return 0;
    double v = item->valuedouble;
    if (!(v >= 0.0) || v > MAX_SAFE_INTEGER || floor(v) != v)
        return 0;
    *out = (uint64_t)v;
    return 1;
}

// qsort has no context argument; sorting pointers lets the comparison reach the entries.
static int cmp_entries_by_offset(const void *a, const void *b)
{
    const entry *x = *(const entry *const *)a, *y = *(const entry *const *)b;
    if (x->begin != y->begin)
        return (x->begin > y->begin) - (x->begin < y->begin);
    return (x->end > y->end) - (x->end < y->end);
}

static rh_status parse_metadata(rh_weights *w, const cJSON *meta, char *err, size_t err_len)
{
    if (!cJSON_IsObject(meta))
        return fail(RH_ERR_FORMAT, err, err_len, "__metadata__ is not a JSON object");
    rh_status st = RH_OK;
    const char *dup = duplicate_key(meta, &st);
    char pn[64];
    if (st != RH_OK)
        return fail(st, err, err_len, "out of memory reading the header");
    if (dup)
        return fail(RH_ERR_FORMAT, err, err_len, "__metadata__ has the key '%s' twice", printable(pn, dup));
    uint32_t n = 0;
    for (const cJSON *c = meta->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return fail(RH_ERR_FORMAT, err, err_len, "__metadata__ value of '%s' is not a string",
                        printable(pn, c->string ? c->string : ""));
        n++;
    }
    if (n == 0)
        return RH_OK;
    w->meta_keys = calloc(n, sizeof *w->meta_keys);
    w->meta_values = calloc(n, sizeof *w->meta_values);
    if (!w->meta_keys || !w->meta_values)
        return fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory reading the header");
    for (const cJSON *c = meta->child; c; c = c->next) {
        char *k = dup_string(c->string ? c->string : "");
        char *v = dup_string(c->valuestring);
        w->meta_keys[w->num_meta] = k;
        w->meta_values[w->num_meta] = v;
        w->num_meta++; // counted even when one failed, so close frees what was made
        if (!k || !v)
            return fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory reading the header");
    }
    return RH_OK;
}

static rh_status parse_tensor(entry *e, const cJSON *item, uint64_t data_size, char *err, size_t err_len)
{
    char pn[64];
    const char *name = printable(pn, e->name);
    if (!cJSON_IsObject(item))
        return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': entry is not a JSON object", name);
    const cJSON *dtype = NULL, *shape = NULL, *offsets = NULL;
    for (const cJSON *c = item->child; c; c = c->next) {
        const char *k = c->string ? c->string : "";
        const cJSON **slot = strcmp(k, "dtype") == 0 ? &dtype
                             : strcmp(k, "shape") == 0 ? &shape
                             : strcmp(k, "data_offsets") == 0 ? &offsets
                             : NULL;
        char pk[64];
        if (!slot)
            return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': unknown field '%s'", name, printable(pk, k));
        if (*slot)
            return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': field '%s' appears twice", name, k);
        *slot = c;
    }

    if (!cJSON_IsString(dtype))
        return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': dtype is missing or not a string", name);
    e->dtype = UINT32_MAX;
    for (uint32_t d = 0; d < sizeof dtype_names / sizeof *dtype_names; d++)
        if (strcmp(dtype->valuestring, dtype_names[d]) == 0)
            e->dtype = d;
    char pd[64];
    if (e->dtype == UINT32_MAX)
        return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': unsupported dtype '%s' (F32, F16, I32, U64 or U8)",
                    name, printable(pd, dtype->valuestring));

    if (!cJSON_IsArray(shape))
        return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': shape is missing or not an array", name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > RH_MAX_DIMS)
        return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': %d dimensions, at most %d are supported", name,
                    ndim, RH_MAX_DIMS);
    e->ndim = (uint32_t)ndim;
    uint64_t elements = 1;
    int overflow = 0;
    uint32_t d = 0;
    for (const cJSON *c = shape->child; c; c = c->next, d++) {
        if (!json_u64(c, &e->shape[d]))
            return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': shape[%u] is not a non-negative integer",
                        name, d);
        if (e->shape[d] != 0 && elements > UINT64_MAX / e->shape[d])
            overflow = 1;
        else
            elements *= e->shape[d];
    }
    const uint64_t esize = rh_dtype_size(e->dtype);
    if (elements > UINT64_MAX / esize)
        overflow = 1;
    // A zero dimension makes the tensor empty however large the others are.
    for (d = 0; d < e->ndim; d++)
        if (e->shape[d] == 0)
            overflow = 0, elements = 0;

    if (!cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2 || !json_u64(offsets->child, &e->begin) ||
        !json_u64(offsets->child->next, &e->end))
        return fail(RH_ERR_FORMAT, err, err_len,
                    "tensor '%s': data_offsets is missing or not two non-negative integers", name);
    if (e->begin > e->end)
        return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': data_offsets [%llu, %llu] end before they begin",
                    name, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_size)
        return fail(RH_ERR_FORMAT, err, err_len,
                    "tensor '%s': data_offsets [%llu, %llu] run past the data section (%llu bytes)", name,
                    (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)data_size);
    char shape_text[128];
    size_t used = 0;
    shape_text[0] = '\0';
    for (d = 0; d < e->ndim; d++)
        used += (size_t)snprintf(shape_text + used, sizeof shape_text - used, "%s%llu", d ? ", " : "",
                                 (unsigned long long)e->shape[d]);
    if (overflow)
        return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s': shape [%s] is too large", name, shape_text);
    if (e->end - e->begin != elements * esize)
        return fail(RH_ERR_FORMAT, err, err_len,
                    "tensor '%s': data_offsets [%llu, %llu] do not match shape [%s] (%llu bytes)", name,
                    (unsigned long long)e->begin, (unsigned long long)e->end, shape_text,
                    (unsigned long long)(elements * esize));
    return RH_OK;
}

// Builds a weights object from the header text (header_len bytes, not terminated). Data stays unread.
static rh_status parse_header(rh_weights **out, const char *header, uint64_t header_len, uint64_t data_size,
                              char *err, size_t err_len)
{
    *out = NULL;
    if (memchr(header, '\0', (size_t)header_len))
        return fail(RH_ERR_FORMAT, err, err_len, "header contains a NUL byte");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(header, (size_t)header_len, &end, 0);
    if (!root) {
        size_t at = end && end >= header ? (size_t)(end - header) : 0;
        return fail(RH_ERR_FORMAT, err, err_len, "header is not valid JSON (near byte %zu of %llu)", at,
                    (unsigned long long)header_len);
    }
    // Only padding may follow the JSON value.
    for (const char *p = end; p < header + header_len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return fail(RH_ERR_FORMAT, err, err_len, "header has bytes after its JSON object (byte %zu)",
                        (size_t)(p - header));
        }

    rh_status st = RH_OK;
    rh_weights *w = NULL;
    entry **sorted = NULL;
    char pn[64];
    if (!cJSON_IsObject(root)) {
        st = fail(RH_ERR_FORMAT, err, err_len, "header is JSON but not an object");
        goto done;
    }
    const char *dup = duplicate_key(root, &st);
    if (st != RH_OK) {
        fail(st, err, err_len, "out of memory reading the header");
        goto done;
    }
    if (dup) {
        st = fail(RH_ERR_FORMAT, err, err_len, "header names '%s' twice", printable(pn, dup));
        goto done;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        st = fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory reading the header");
        goto done;
    }
    w->data_size = data_size;
    uint32_t n = 0;
    for (const cJSON *c = root->child; c; c = c->next)
        if (strcmp(c->string ? c->string : "", METADATA_KEY) != 0)
            n++;
    if (n > 0) {
        w->entries = calloc(n, sizeof *w->entries);
        sorted = malloc(n * sizeof *sorted);
        if (!w->entries || !sorted) {
            st = fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory reading the header");
            goto done;
        }
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        const char *key = c->string ? c->string : "";
        if (strcmp(key, METADATA_KEY) == 0) {
            st = parse_metadata(w, c, err, err_len);
            if (st != RH_OK)
                goto done;
            continue;
        }
        size_t len = strlen(key);
        if (len == 0 || len > MAX_BLOB_NAME) {
            st = fail(RH_ERR_FORMAT, err, err_len, "tensor name '%s' is %zu bytes (1..%d allowed)",
                      printable(pn, key), len, MAX_BLOB_NAME);
            goto done;
        }
        entry *e = &w->entries[w->count];
        e->name = dup_string(key);
        w->count++;
        if (!e->name) {
            st = fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory reading the header");
            goto done;
        }
        st = parse_tensor(e, c, data_size, err, err_len);
        if (st != RH_OK)
            goto done;
        sorted[w->count - 1] = e;
    }

    // As the safetensors spec: tensors tile the data section exactly, no overlap and no hole.
    if (w->count > 0)
        qsort(sorted, w->count, sizeof *sorted, cmp_entries_by_offset);
    uint64_t next = 0;
    for (uint32_t i = 0; i < w->count; i++) {
        const entry *e = sorted[i];
        if (e->begin < next) {
            char pm[64];
            st = fail(RH_ERR_FORMAT, err, err_len, "tensors '%s' and '%s' overlap at byte %llu",
                      printable(pn, sorted[i - 1]->name), printable(pm, e->name), (unsigned long long)e->begin);
            goto done;
        }
        if (e->begin > next) {
            st = fail(RH_ERR_FORMAT, err, err_len, "data bytes [%llu, %llu) belong to no tensor",
                      (unsigned long long)next, (unsigned long long)e->begin);
            goto done;
        }
        next = e->end;
    }
    if (next != data_size) {
        st = fail(RH_ERR_FORMAT, err, err_len, "the data section has %llu bytes but the tensors use %llu",
                  (unsigned long long)data_size, (unsigned long long)next);
        goto done;
    }
    if (w->count > 0 && !(w->order = malloc(w->count * sizeof *w->order))) {
        st = fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory reading the header");
        goto done;
    }
    uint64_t at = 0;
    for (uint32_t i = 0; i < w->count; i++) {
        entry *e = sorted[i];
        w->order[i] = (uint32_t)(e - w->entries);
        e->at = at;
        at += (e->end - e->begin + 7) / 8 * 8;
    }
    w->alloc_size = at;
done:
    free(sorted);
    cJSON_Delete(root);
    if (st != RH_OK) {
        rh_weights_close(w);
        return st;
    }
    *out = w;
    return RH_OK;
}

// Checks the 8-byte prefix against the real size; on success gives the header and data section lengths.
static rh_status check_lengths(uint64_t *header_len, uint64_t *data_size, const uint8_t prefix[8],
                               uint64_t size, char *err, size_t err_len)
{
    if (size < 8)
        return fail(RH_ERR_FORMAT, err, err_len, "%llu bytes is too short for a safetensors file (8-byte header length)",
                    (unsigned long long)size);
    const uint64_t hl = read_le64(prefix);
    if (hl < 2)
        return fail(RH_ERR_FORMAT, err, err_len, "header length %llu is too small", (unsigned long long)hl);
    if (hl > MAX_HEADER_BYTES)
        return fail(RH_ERR_FORMAT, err, err_len, "header length %llu exceeds the %u-byte limit",
                    (unsigned long long)hl, MAX_HEADER_BYTES);
    if (hl > size - 8)
        return fail(RH_ERR_FORMAT, err, err_len, "header length %llu runs past the end of the %llu-byte file",
                    (unsigned long long)hl, (unsigned long long)size);
    *header_len = hl;
    *data_size = size - 8 - hl;
    return RH_OK;
}

static rh_status allocate_data(rh_weights *w, char *err, size_t err_len)
{
    if (w->alloc_size == 0)
        return RH_OK;
    if (w->alloc_size > SIZE_MAX || !(w->data = calloc(1, (size_t)w->alloc_size)))
        return fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory for %llu bytes of tensor data",
                    (unsigned long long)w->alloc_size);
    return RH_OK;
}

static void data_to_host_order(rh_weights *w)
{
    if (host_is_little_endian())
        return;
    for (uint32_t i = 0; i < w->count; i++) {
        const entry *e = &w->entries[i];
        size_t es = rh_dtype_size(e->dtype);
        swap_elements(w->data + e->at, (e->end - e->begin) / es, es);
    }
}

rh_status rh_weights_from_memory(rh_weights **out, const void *data, size_t size, char *err, size_t err_len)
{
    if (err && err_len > 0)
        err[0] = '\0';
    if (!out)
        return fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "no output pointer");
    *out = NULL;
    if (!data && size > 0)
        return fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "no data");
    const uint8_t *bytes = data;
    uint64_t hl = 0, ds = 0;
    rh_status st = check_lengths(&hl, &ds, bytes, size, err, err_len);
    if (st != RH_OK)
        return st;
    rh_weights *w = NULL;
    st = parse_header(&w, (const char *)bytes + 8, hl, ds, err, err_len);
    if (st != RH_OK)
        return st;
    st = allocate_data(w, err, err_len);
    if (st != RH_OK) {
        rh_weights_close(w);
        return st;
    }
    for (uint32_t i = 0; i < w->count; i++) {
        const entry *e = &w->entries[w->order[i]];
        if (e->end > e->begin)
            memcpy(w->data + e->at, bytes + 8 + hl + e->begin, (size_t)(e->end - e->begin));
    }
    data_to_host_order(w);
    *out = w;
    return RH_OK;
}

// Reads exactly len bytes; 0 on success, else an errno value (EIO standing for an early end of file).
static int read_exact(int fd, void *buf, size_t len, int *short_read)
{
    uint8_t *p = buf;
    *short_read = 0;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (r == 0) {
            *short_read = 1;
            return EIO;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* Puts "path: " before a message about the file's contents: the caller's message should stand on its own. */
static void name_file(char *err, size_t err_len, const char *path)
{
    if (err && err_len > 0) {
        char inner[256];
        snprintf(inner, sizeof inner, "%s", err);
        snprintf(err, err_len, "%s: %s", path, inner);
    }
}

rh_status rh_weights_open(rh_weights **out, const char *path, char *err, size_t err_len)
{
    if (err && err_len > 0)
        err[0] = '\0';
    if (!out || !path)
        return fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "no output pointer or path");
    *out = NULL;
    char et[128];
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return fail(RH_ERR_IO, err, err_len, "cannot open %s: %s", path, errno_text(et, sizeof et, errno));
    rh_status st = RH_OK;
    rh_weights *w = NULL;
    char *header = NULL;
    struct stat sb;
    int shrt = 0, e;
    if (fstat(fd, &sb) != 0) {
        st = fail(RH_ERR_IO, err, err_len, "cannot stat %s: %s", path, errno_text(et, sizeof et, errno));
        goto done;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = fail(RH_ERR_IO, err, err_len, "cannot read %s: not a regular file", path);
        goto done;
    }
    const uint64_t size = (uint64_t)sb.st_size;
    uint8_t prefix[8] = {0};
    if (size >= 8 && (e = read_exact(fd, prefix, 8, &shrt)) != 0)
        goto read_error;
    uint64_t hl = 0, ds = 0;
    if ((st = check_lengths(&hl, &ds, prefix, size, err, err_len)) != RH_OK) {
        name_file(err, err_len, path);
        goto done;
    }
    // hl <= file size, so this allocation is justified by bytes that really exist.
    header = malloc((size_t)hl);
    if (!header) {
        st = fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory for a %llu-byte header", (unsigned long long)hl);
        goto done;
    }
    if ((e = read_exact(fd, header, (size_t)hl, &shrt)) != 0)
        goto read_error;
    if ((st = parse_header(&w, header, hl, ds, err, err_len)) != RH_OK ||
        (st = allocate_data(w, err, err_len)) != RH_OK) {
        name_file(err, err_len, path);
        goto done;
    }
    // Tensors tile the data section in this order, so the file is still read front to back.
    for (uint32_t i = 0; i < w->count; i++) {
        const entry *t = &w->entries[w->order[i]];
        if (t->end > t->begin && (e = read_exact(fd, w->data + t->at, (size_t)(t->end - t->begin), &shrt)) != 0)
            goto read_error;
    }
    data_to_host_order(w);
    goto done;

read_error:
    st = shrt ? fail(RH_ERR_IO, err, err_len, "cannot read %s: the file shrank while reading", path)
              : fail(RH_ERR_IO, err, err_len, "cannot read %s: %s", path, errno_text(et, sizeof et, e));
done:
    free(header);
    close(fd);
    if (st != RH_OK) {
        rh_weights_close(w);
        return st;
    }
    *out = w;
    return RH_OK;
}

const char *rh_weights_meta(const rh_weights *w, const char *key)
{
    if (!w || !key)
        return NULL;
    for (uint32_t i = 0; i < w->num_meta; i++)
        if (strcmp(w->meta_keys[i], key) == 0)
            return w->meta_values[i];
    return NULL;
}

uint32_t rh_weights_meta_count(const rh_weights *w)
{
    return w ? w->num_meta : 0;
}

rh_status rh_weights_meta_at(const rh_weights *w, uint32_t index, const char **key, const char **value)
{
    if (!w || index >= w->num_meta)
        return RH_ERR_INVALID_ARGUMENT;
    if (key)
        *key = w->meta_keys[index];
    if (value)
        *value = w->meta_values[index];
    return RH_OK;
}

uint32_t rh_weights_count(const rh_weights *w)
{
    return w ? w->count : 0;
}

rh_status rh_weights_get(const rh_weights *w, uint32_t index, rh_blob *out)
{
    if (!w || !out || index >= w->count)
        return RH_ERR_INVALID_ARGUMENT;
    const entry *e = &w->entries[index];
    memset(out, 0, sizeof *out);
    out->name = e->name;
    out->dtype = e->dtype;
    out->ndim = e->ndim;
    memcpy(out->shape, e->shape, sizeof out->shape);
    out->data = w->data ? w->data + e->at : NULL;
    return RH_OK;
}

int32_t rh_weights_find(const rh_weights *w, const char *name)
{
    if (!w || !name)
        return -1;
    for (uint32_t i = 0; i < w->count && i <= INT32_MAX; i++)
        if (strcmp(w->entries[i].name, name) == 0)
            return (int32_t)i;
    return -1;
}

rh_status rh_weights_load_tensors(const rh_weights *w, float *buffer, const rh_tensor *tensors,
                                  uint32_t num_tensors, const char *prefix, char *err, size_t err_len)
{
    if (err && err_len > 0)
        err[0] = '\0';
    if (!w || (num_tensors > 0 && (!buffer || !tensors)))
        return fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "missing weights, buffer or tensor table");
    if (!prefix)
        prefix = "";
    for (uint32_t i = 0; i < num_tensors; i++) {
        const rh_tensor *t = &tensors[i];
        char name[MAX_BLOB_NAME + 2];
        int len = snprintf(name, sizeof name, "%s%s", prefix, t->name ? t->name : "");
        if (len < 0 || (size_t)len >= sizeof name)
            return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s%s': name is longer than %d bytes", prefix,
                        t->name ? t->name : "", MAX_BLOB_NAME);
        int32_t k = rh_weights_find(w, name);
        if (k < 0)
            return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s' is missing from the weights", name);
        const entry *e = &w->entries[k];
        if (e->dtype != RH_DTYPE_F32 && e->dtype != RH_DTYPE_F16)
            return fail(RH_ERR_FORMAT, err, err_len, "tensor '%s' is %s, expected F32 or F16", name,
                        dtype_names[e->dtype]);
        int same = t->ndim == e->ndim;
        uint64_t elements = 1;
        for (uint32_t d = 0; same && d < t->ndim; d++) {
            same = t->shape[d] == e->shape[d];
            elements *= t->shape[d];
        }
        if (!same || elements != t->size || elements != (e->end - e->begin) / rh_dtype_size(e->dtype)) {
            char want[96], got[96];
            size_t u = 0, v = 0;
            want[0] = got[0] = '\0';
            for (uint32_t d = 0; d < t->ndim && d < RH_MAX_DIMS; d++)
                u += (size_t)snprintf(want + u, sizeof want - u, "%s%u", d ? ", " : "", t->shape[d]);
            for (uint32_t d = 0; d < e->ndim; d++)
                v += (size_t)snprintf(got + v, sizeof got - v, "%s%llu", d ? ", " : "",
                                      (unsigned long long)e->shape[d]);
            return fail(RH_ERR_SHAPE, err, err_len, "tensor '%s' has shape [%s], the model expects [%s]", name,
                        got, want);
        }
        if (e->dtype == RH_DTYPE_F16) {
            const uint16_t *src = (const uint16_t *)(const void *)(w->data + e->at);
            float *dst = buffer + t->offset;
            for (uint64_t j = 0; j < elements; j++) {
                dst[j] = rh_f16_to_f32(src[j]);
                if (!isfinite(dst[j]))
                    return fail(RH_ERR_NOT_FINITE, err, err_len,
                                "tensor '%s' holds a non-finite value at element %llu", name, (unsigned long long)j);
            }
            continue;
        }
        const float *src = (const float *)(const void *)(w->data + e->at);
        for (uint64_t j = 0; j < elements; j++)
            if (!isfinite(src[j]))
                return fail(RH_ERR_NOT_FINITE, err, err_len, "tensor '%s' holds a non-finite value at element %llu",
                            name, (unsigned long long)j);
        if (elements > 0)
            memcpy(buffer + t->offset, src, (size_t)elements * sizeof *buffer);
    }
    return RH_OK;
}

/* ---- writer ---- */

// Buffered writes to a file descriptor; the first failure sticks and keeps its errno.
typedef struct {
    int fd;
    int error;
    size_t used;
    uint8_t buf[1 << 16];
} writer;

static void writer_flush(writer *wr)
{
    uint8_t *p = wr->buf;
    while (wr->error == 0 && wr->used > 0) {
        ssize_t r = write(wr->fd, p, wr->used);
        if (r < 0) {
            if (errno != EINTR)
                wr->error = errno;
            continue;
        }
        if (r == 0) { // a write that makes no progress would loop forever: call it a full disk
            wr->error = ENOSPC;
            continue;
        }
        p += r;
        wr->used -= (size_t)r;
    }
}

static void writer_put(writer *wr, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (wr->error == 0 && len > 0) {
        size_t room = sizeof wr->buf - wr->used;
        size_t n = len < room ? len : room;
        memcpy(wr->buf + wr->used, p, n);
        wr->used += n;
        p += n;
        len -= n;
        if (wr->used == sizeof wr->buf)
            writer_flush(wr);
    }
}

// Writes n elements of size bytes little-endian, swapping through a small buffer on big-endian hosts.
static void writer_put_le(writer *wr, const uint8_t *data, uint64_t n, size_t size)
{
    if (host_is_little_endian() || size == 1) {
        writer_put(wr, data, (size_t)(n * size));
        return;
    }
    uint8_t chunk[4096];
    const uint64_t per = sizeof chunk / size;
    while (n > 0 && wr->error == 0) {
        uint64_t k = n < per ? n : per;
        memcpy(chunk, data, (size_t)(k * size));
        swap_elements(chunk, k, size);
        writer_put(wr, chunk, (size_t)(k * size));
        data += k * size;
        n -= k;
    }
}

static cJSON *json_u64_raw(uint64_t v)
{
    // Raw text keeps integers exact; cJSON would route them through a double.
    char text[32];
    snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    return cJSON_CreateRaw(text);
}

// Byte size of a blob, or 0 with *ok cleared when it overflows.
static uint64_t blob_bytes(const rh_blob *b, int *ok)
{
    uint64_t n = rh_dtype_size(b->dtype);
    for (uint32_t d = 0; d < b->ndim; d++) {
        if (b->shape[d] != 0 && n > UINT64_MAX / b->shape[d]) {
            *ok = 0;
            return 0;
        }
        n *= b->shape[d];
    }
    return n;
}

// The header JSON for the given arrays, NULL-terminated text the caller frees; NULL with err on failure.
static char *build_header(rh_status *st, const rh_meta *meta, uint32_t num_meta, const rh_blob *blobs,
                          uint32_t num_blobs, char *err, size_t err_len)
{
    char pn[64];
    for (uint32_t i = 0; i < num_meta; i++) {
        if (!meta[i].key || !meta[i].value) {
            *st = fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "metadata entry %u has a NULL key or value", i);
            return NULL;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(meta[i].key, meta[j].key) == 0) {
                *st = fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "metadata key '%s' appears twice",
                           printable(pn, meta[i].key));
                return NULL;
            }
    }
    uint64_t offset = 0;
    for (uint32_t i = 0; i < num_blobs; i++) {
        const rh_blob *b = &blobs[i];
        size_t len = b->name ? strlen(b->name) : 0;
        if (len == 0 || len > MAX_BLOB_NAME || strcmp(b->name, METADATA_KEY) == 0) {
            *st = fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "array %u: name '%s' is not allowed (1..%d bytes, not %s)",
                       i, b->name ? printable(pn, b->name) : "", MAX_BLOB_NAME, METADATA_KEY);
            return NULL;
        }
        if (rh_dtype_size(b->dtype) == 0 || b->ndim > RH_MAX_DIMS) {
            *st = fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "array '%s': unknown dtype %u or ndim %u > %d",
                       printable(pn, b->name), b->dtype, b->ndim, RH_MAX_DIMS);
            return NULL;
        }
        int ok = 1;
        uint64_t bytes = blob_bytes(b, &ok);
        if (!ok || bytes > UINT64_MAX - offset) {
            *st = fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "array '%s' is too large", printable(pn, b->name));
            return NULL;
        }
        if (bytes > 0 && !b->data) {
            *st = fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "array '%s' has no data", printable(pn, b->name));
            return NULL;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(b->name, blobs[j].name) == 0) {
                *st = fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "array name '%s' appears twice",
                           printable(pn, b->name));
                return NULL;
            }
        offset += bytes;
    }

    cJSON *root = cJSON_CreateObject();
    int ok = root != NULL;
    if (ok && num_meta > 0) {
        cJSON *m = cJSON_CreateObject();
        ok = m && cJSON_AddItemToObject(root, METADATA_KEY, m);
        if (!ok)
            cJSON_Delete(m);
        for (uint32_t i = 0; ok && i < num_meta; i++)
            ok = cJSON_AddStringToObject(m, meta[i].key, meta[i].value) != NULL;
    }
    offset = 0;
    for (uint32_t i = 0; ok && i < num_blobs; i++) {
        const rh_blob *b = &blobs[i];
        cJSON *t = cJSON_CreateObject();
        ok = t && cJSON_AddItemToObject(root, b->name, t);
        if (!ok) {
            cJSON_Delete(t);
            break;
        }
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        cJSON *offs = NULL;
        ok = cJSON_AddStringToObject(t, "dtype", dtype_names[b->dtype]) && shape &&
             (offs = cJSON_AddArrayToObject(t, "data_offsets"));
        for (uint32_t d = 0; ok && d < b->ndim; d++)
            ok = cJSON_AddItemToArray(shape, json_u64_raw(b->shape[d]));
        int dummy = 1;
        uint64_t end = offset + blob_bytes(b, &dummy);
        ok = ok && cJSON_AddItemToArray(offs, json_u64_raw(offset)) && cJSON_AddItemToArray(offs, json_u64_raw(end));
        offset = end;
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        *st = fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory building the header");
    return text;
}

/* The whole file through wr: the 8-byte header length, the header padded with spaces so the data section
 * starts at a multiple of 8 bytes from the start of the file, then every array little-endian. */
static void put_file(writer *wr, const char *header, const rh_blob *blobs, uint32_t num_blobs)
{
    size_t hl = strlen(header);
    const size_t padded = (hl + 7) / 8 * 8;
    uint8_t prefix[8];
    for (int i = 0; i < 8; i++)
        prefix[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    writer_put(wr, prefix, 8);
    writer_put(wr, header, hl);
    writer_put(wr, "       ", padded - hl);
    for (uint32_t i = 0; i < num_blobs; i++) {
        int ok = 1;
        const size_t es = rh_dtype_size(blobs[i].dtype);
        writer_put_le(wr, blobs[i].data, blob_bytes(&blobs[i], &ok) / es, es);
    }
    writer_flush(wr);
}

/* The file for the arrays onto fd. RH_OK; RH_ERR_IO with the write's errno in *io_error (err untouched); or
 * another status with err saying what is wrong with the arguments. */
static rh_status write_to(int fd, int *io_error, const rh_meta *meta, uint32_t num_meta, const rh_blob *blobs,
                          uint32_t num_blobs, char *err, size_t err_len)
{
    rh_status st = RH_OK;
    char *header = build_header(&st, meta, num_meta, blobs, num_blobs, err, err_len);
    if (!header)
        return st;
    writer *wr = malloc(sizeof *wr);
    if (!wr) {
        free(header);
        return fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory writing the weights");
    }
    wr->fd = fd;
    wr->error = 0;
    wr->used = 0;
    put_file(wr, header, blobs, num_blobs);
    *io_error = wr->error;
    free(wr);
    free(header);
    return *io_error ? RH_ERR_IO : RH_OK;
}

rh_status rh_weights_write_fd(int fd, const rh_meta *meta, uint32_t num_meta, const rh_blob *blobs,
                              uint32_t num_blobs, char *err, size_t err_len)
{
    if (err && err_len > 0)
        err[0] = '\0';
    if (fd < 0 || (num_meta > 0 && !meta) || (num_blobs > 0 && !blobs))
        return fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "missing descriptor, metadata or arrays");
    int code = 0;
    char et[128];
    const rh_status st = write_to(fd, &code, meta, num_meta, blobs, num_blobs, err, err_len);
    if (st == RH_ERR_IO)
        fail(st, err, err_len, "cannot write: %s", errno_text(et, sizeof et, code));
    return st;
}

/* A symbolic link at path is followed (a chain of them too): the link stays and its target is written.
 * The malloc'd path of the file to write, NULL with *code (ELOOP, ENOMEM, or readlink's errno). */
static char *follow_links(const char *path, int *code)
{
    char *cur = strdup(path);
    for (int hop = 0; cur; hop++) {
        struct stat st;
        if (lstat(cur, &st) != 0 || !S_ISLNK(st.st_mode))
            return cur;
        char link[4096];
        const ssize_t n = hop < 40 ? readlink(cur, link, sizeof link - 1) : -1;
        if (n < 0) {
            *code = hop < 40 ? errno : ELOOP;
            free(cur);
            return NULL;
        }
        link[n] = '\0';
        const char *slash = strrchr(cur, '/');
        const size_t dl = link[0] == '/' || !slash ? 0 : (size_t)(slash - cur) + 1; // keep "dir/"
        char *next = malloc(dl + (size_t)n + 1);
        if (next) {
            memcpy(next, cur, dl);
            memcpy(next + dl, link, (size_t)n + 1);
        }
        free(cur);
        cur = next;
    }
    *code = ENOMEM;
    return NULL;
}

rh_status rh_weights_write(const char *path, const rh_meta *meta, uint32_t num_meta, const rh_blob *blobs,
                           uint32_t num_blobs, char *err, size_t err_len)
{
    if (err && err_len > 0)
        err[0] = '\0';
    if (!path || !*path || (num_meta > 0 && !meta) || (num_blobs > 0 && !blobs))
        return fail(RH_ERR_INVALID_ARGUMENT, err, err_len, "missing path, metadata or arrays");
    rh_status st = RH_OK;
    char et[128];
    int code = 0;
    char *target = follow_links(path, &code);
    if (!target)
        return fail(code == ENOMEM ? RH_ERR_NO_MEMORY : RH_ERR_IO, err, err_len, "cannot write %s: %s", path,
                    errno_text(et, sizeof et, code));
    struct stat sb;
    const int exists = stat(target, &sb) == 0;
    if (exists && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode)) {
        // A device or a FIFO cannot be replaced, only written to.
        int fd = open(target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            st = fail(RH_ERR_IO, err, err_len, "cannot write %s: %s", path, errno_text(et, sizeof et, errno));
        } else {
            st = write_to(fd, &code, meta, num_meta, blobs, num_blobs, err, err_len);
            if (close(fd) != 0 && st == RH_OK)
                st = RH_ERR_IO, code = errno;
            if (st == RH_ERR_IO)
                fail(st, err, err_len, "cannot write %s: %s", path, errno_text(et, sizeof et, code));
        }
        free(target);
        return st;
    }

    const size_t target_len = strlen(target);
    char *tmp = malloc(target_len + sizeof ".tmp.XXXXXX");
    char *dir = malloc(target_len + 2);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        free(target);
        return fail(RH_ERR_NO_MEMORY, err, err_len, "out of memory writing %s", path);
    }
    memcpy(tmp, target, target_len);
    memcpy(tmp + target_len, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    const char *slash = strrchr(target, '/');
    if (!slash)
        memcpy(dir, ".", 2);
    else if (slash == target)
        memcpy(dir, "/", 2);
    else {
        memcpy(dir, target, (size_t)(slash - target));
        dir[slash - target] = '\0';
    }

    // The temp file lives beside the target so rename stays within one filesystem and is atomic.
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = fail(RH_ERR_IO, err, err_len, "cannot create a temporary file for %s: %s", path,
                  errno_text(et, sizeof et, errno));
        goto out;
    }
    // mkstemp makes 0600; an overwritten file keeps its mode, a new one gets the usual 0644.
    mode_t mode = exists ? (sb.st_mode & 07777) : 0644;
    if (fchmod(fd, mode) != 0) {
        st = fail(RH_ERR_IO, err, err_len, "cannot set the mode of %s: %s", tmp, errno_text(et, sizeof et, errno));
        goto fail_unlink;
    }
    st = write_to(fd, &code, meta, num_meta, blobs, num_blobs, err, err_len);
    if (st != RH_OK) {
        if (st == RH_ERR_IO)
            fail(st, err, err_len, "cannot write %s: %s", path, errno_text(et, sizeof et, code));
        goto fail_unlink;
    }
    if (fsync(fd) != 0) {
        st = fail(RH_ERR_IO, err, err_len, "cannot write %s: %s", path, errno_text(et, sizeof et, errno));
        goto fail_unlink;
    }
    int closed = close(fd);
    fd = -1;
    if (closed != 0) {
        st = fail(RH_ERR_IO, err, err_len, "cannot write %s: %s", path, errno_text(et, sizeof et, errno));
        goto fail_unlink;
    }
    if (rename(tmp, target) != 0) {
        st = fail(RH_ERR_IO, err, err_len, "cannot rename %s to %s: %s", tmp, target, errno_text(et, sizeof et, errno));
        goto fail_unlink;
    }
    // Without this the rename itself may not survive a crash, and the old file could come back.
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL)
            st = fail(RH_ERR_IO, err, err_len, "wrote %s but cannot sync its directory: %s", path,
                      errno_text(et, sizeof et, errno));
        close(dfd);
    }
    goto out;

fail_unlink:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    free(tmp);
    free(dir);
    free(target);
    return st;
}
