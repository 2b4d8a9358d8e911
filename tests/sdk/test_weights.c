/* Weights files: exact round trips, a strict reader that refuses hostile input without crashing, and an
 * atomic writer. */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "rnnhost/rnnhost.h"

static char dir[64];

static void path_in_dir(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static int write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

// Whole file into a malloc'd buffer; *len its size.
static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? 2 * cap : 4096;
            buf = realloc(buf, cap);
        }
        size_t r = fread(buf + *len, 1, cap - *len, f);
        if (r == 0)
            break;
        *len += r;
    }
    fclose(f);
    return buf;
}

static int count_temp_files(const char *d)
{
    DIR *dp = opendir(d);
    if (!dp)
        return 0;
    int n = 0;
    for (struct dirent *de; (de = readdir(dp));)
        n += strstr(de->d_name, ".tmp.") != NULL;
    closedir(dp);
    return n;
}

// A safetensors image with the given header text and data bytes (0xAB...), header length as given.
static uint8_t *image(size_t *len, uint64_t header_len, const char *header, size_t data_len)
{
    size_t hl = strlen(header);
    *len = 8 + hl + data_len;
    uint8_t *b = malloc(*len);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(header_len >> (8 * i));
    memcpy(b + 8, header, hl);
    for (size_t i = 0; i < data_len; i++)
        b[8 + hl + i] = (uint8_t)(0xAB + i);
    return b;
}

static int one_line(const char *err)
{
    return err[0] != '\0' && !strchr(err, '\n');
}

// Refused from memory and from a file, with the wanted status and a one-line message containing `needle`.
static void expect_bad(const uint8_t *bytes, size_t len, rh_status want, const char *needle, const char *what)
{
    char err[256] = "";
    rh_weights *w = (rh_weights *)&err; // must be reset to NULL
    rh_status st = rh_weights_from_memory(&w, bytes, len, err, sizeof err);
    CHECK(st == want && w == NULL, "%s: from memory status %d (want %d): %s", what, st, want, err);
    CHECK(one_line(err), "%s: error message '%s'", what, err);
    CHECK(!needle || strstr(err, needle), "%s: message '%s' lacks '%s'", what, err, needle);
    if (st == RH_OK)
        rh_weights_close(w);
    char path[128];
    path_in_dir(path, sizeof path, "bad.safetensors");
    CHECK(write_bytes(path, bytes, len), "cannot write %s", path);
    err[0] = '\0';
    w = (rh_weights *)&err;
    st = rh_weights_open(&w, path, err, sizeof err);
    CHECK(st == want && w == NULL, "%s: from file status %d (want %d): %s", what, st, want, err);
    CHECK(one_line(err), "%s: file error message '%s'", what, err);
    if (st == RH_OK)
        rh_weights_close(w);
}

static void expect_bad_header(const char *header, size_t data_len, const char *needle, const char *what)
{
    size_t len;
    uint8_t *b = image(&len, strlen(header), header, data_len);
    expect_bad(b, len, RH_ERR_FORMAT, needle, what);
    free(b);
}

// Reads every field of every array so that a bad pointer or length shows up under the sanitizers.
static uint64_t touch_all(const rh_weights *w)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < rh_weights_count(w); i++) {
        rh_blob b;
        if (rh_weights_get(w, i, &b) != RH_OK)
            return 0;
        uint64_t n = rh_dtype_size(b.dtype);
        for (uint32_t d = 0; d < b.ndim; d++)
            n *= b.shape[d];
        for (uint64_t k = 0; k < n; k++)
            sum += ((const uint8_t *)b.data)[k];
        sum += strlen(b.name);
    }
    for (uint32_t i = 0; i < rh_weights_meta_count(w); i++) {
        const char *k, *v;
        rh_weights_meta_at(w, i, &k, &v);
        sum += strlen(k) + strlen(v);
    }
    return sum;
}

static void test_round_trip(void)
{
    char path[128], err[256] = "";
    path_in_dir(path, sizeof path, "round.safetensors");
    uint32_t nan_bits = 0x7fc01234u, denorm_bits = 0x00000001u;
    float f[6] = {1.5f, -0.0f, 3.4e38f, INFINITY, 0, 0};
    memcpy(&f[4], &nan_bits, 4);
    memcpy(&f[5], &denorm_bits, 4);
    int32_t scalar = -123456789;
    uint64_t u[3] = {0, UINT64_MAX, 0x0102030405060708ull};
    uint8_t bytes[5] = {0, 1, 127, 128, 255};
    int32_t none[1] = {0};
    const rh_blob blobs[] = {
        {"f32", RH_DTYPE_F32, 2, {2, 3, 0, 0}, f},
        {"scalar", RH_DTYPE_I32, 0, {0, 0, 0, 0}, &scalar},
        {"u8", RH_DTYPE_U8, 1, {5, 0, 0, 0}, bytes},
        {"u64.after.odd", RH_DTYPE_U64, 1, {3, 0, 0, 0}, u},
        {"empty", RH_DTYPE_I32, 2, {0, 4, 0, 0}, none},
    };
    const rh_meta meta[] = {
        {"plugin", "gru"},
        {"quote\"and\\slash", "line\nbreak \xc3\xa9t\xc3\xa9"},
        {"hidden", "[128, 2]"},
    };
    rh_status st = rh_weights_write(path, meta, 3, blobs, 5, err, sizeof err);
    CHECK(st == RH_OK, "write: %s", err);
    CHECK(count_temp_files(dir) == 0, "temp file left after a successful write");

    size_t len;
    uint8_t *raw = read_all(path, &len);
    CHECK(raw && len > 8, "cannot read back %s", path);
    if (raw && len > 8) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--)
            hl = hl << 8 | raw[i];
        CHECK((8 + hl) % 8 == 0, "data section starts at %llu", (unsigned long long)(8 + hl));
        CHECK(memcmp(raw + 8, "{\"__metadata__\":", 16) == 0, "header does not start with __metadata__");
        CHECK(len == 8 + hl + 24 + 4 + 5 + 24, "file is %zu bytes", len);
        // The U64 0x0102030405060708 is the third element, after 24 + 4 + 5 bytes: little-endian on disk.
        const uint8_t le[8] = {8, 7, 6, 5, 4, 3, 2, 1};
        CHECK(8 + hl + 33 + 16 + 8 <= len && memcmp(raw + 8 + hl + 33 + 16, le, 8) == 0, "U64 not little-endian");
        // And the very same bytes load from memory.
        rh_weights *m = NULL;
        CHECK(rh_weights_from_memory(&m, raw, len, err, sizeof err) == RH_OK, "from memory: %s", err);
        CHECK(m && rh_weights_count(m) == 5, "from memory count");
        rh_weights_close(m);
    }
    free(raw);

    rh_weights *w = NULL;
    st = rh_weights_open(&w, path, err, sizeof err);
    CHECK(st == RH_OK && w, "open: %s", err);
    if (!w)
        return;
    CHECK(rh_weights_meta_count(w) == 3, "meta count %u", rh_weights_meta_count(w));
    for (uint32_t i = 0; i < 3; i++) {
        const char *k = NULL, *v = NULL;
        CHECK(rh_weights_meta_at(w, i, &k, &v) == RH_OK && k && v && strcmp(k, meta[i].key) == 0 &&
                  strcmp(v, meta[i].value) == 0,
              "meta %u", i);
        CHECK(rh_weights_meta(w, meta[i].key) && strcmp(rh_weights_meta(w, meta[i].key), meta[i].value) == 0,
              "meta lookup %u", i);
    }
    CHECK(rh_weights_meta(w, "missing") == NULL, "missing meta key found");
    CHECK(rh_weights_meta_at(w, 3, NULL, NULL) == RH_ERR_INVALID_ARGUMENT, "meta_at past the end");
    CHECK(rh_weights_count(w) == 5, "count %u", rh_weights_count(w));
    for (uint32_t i = 0; i < 5 && i < rh_weights_count(w); i++) {
        rh_blob b;
        CHECK(rh_weights_get(w, i, &b) == RH_OK, "get %u", i);
        CHECK(strcmp(b.name, blobs[i].name) == 0, "name %u: %s", i, b.name);
        CHECK(b.dtype == blobs[i].dtype && b.ndim == blobs[i].ndim &&
                  memcmp(b.shape, blobs[i].shape, sizeof b.shape) == 0,
              "dtype/shape of %s", b.name);
        uint64_t n = rh_dtype_size(b.dtype);
        for (uint32_t d = 0; d < b.ndim; d++)
            n *= b.shape[d];
        CHECK(n == 0 || memcmp(b.data, blobs[i].data, n) == 0, "data of %s not bit-identical", b.name);
        CHECK(n == 0 || (uintptr_t)b.data % rh_dtype_size(b.dtype) == 0, "data of %s misaligned", b.name);
        CHECK(rh_weights_find(w, blobs[i].name) == (int32_t)i, "find %s", blobs[i].name);
    }
    CHECK(rh_weights_find(w, "nope") == -1, "find of a missing name");
    rh_blob b;
    CHECK(rh_weights_get(w, 5, &b) == RH_ERR_INVALID_ARGUMENT, "get past the end");
    rh_weights_close(w);

    // No metadata and no arrays is still a valid file.
    st = rh_weights_write(path, NULL, 0, NULL, 0, err, sizeof err);
    CHECK(st == RH_OK, "empty write: %s", err);
    st = rh_weights_open(&w, path, err, sizeof err);
    CHECK(st == RH_OK && rh_weights_count(w) == 0 && rh_weights_meta_count(w) == 0, "empty read: %s", err);
    rh_weights_close(w);
}

// A small valid file used by the hostile-input loops.
static uint8_t *small_valid(size_t *len)
{
    char path[128], err[256] = "";
    path_in_dir(path, sizeof path, "small.safetensors");
    float a[3] = {1, 2, 3};
    uint8_t c[3] = {9, 8, 7};
    uint64_t d[1] = {42};
    const rh_blob blobs[] = {
        {"a", RH_DTYPE_F32, 1, {3, 0, 0, 0}, a},
        {"c", RH_DTYPE_U8, 2, {1, 3, 0, 0}, c},
        {"d", RH_DTYPE_U64, 0, {0, 0, 0, 0}, d},
    };
    const rh_meta meta[] = {{"k", "v"}};
    CHECK(rh_weights_write(path, meta, 1, blobs, 3, err, sizeof err) == RH_OK, "small write: %s", err);
    return read_all(path, len);
}

static void test_hostile(void)
{
    size_t len;
    uint8_t *b;
    expect_bad((const uint8_t *)"", 0, RH_ERR_FORMAT, "too short", "empty file");
    expect_bad((const uint8_t *)"\x02\0\0\0\0\0\0", 7, RH_ERR_FORMAT, "too short", "7 bytes");
    b = image(&len, UINT64_MAX, "{}", 0);
    expect_bad(b, len, RH_ERR_FORMAT, "limit", "header length 2^64-1");
    free(b);
    b = image(&len, 200u * 1000u * 1000u, "{}", 0);
    expect_bad(b, len, RH_ERR_FORMAT, "limit", "header length 200 MB");
    free(b);
    b = image(&len, 50, "{}", 8);
    expect_bad(b, len, RH_ERR_FORMAT, "past the end", "header length past the end");
    free(b);
    b = image(&len, 1, "{}", 0);
    expect_bad(b, len, RH_ERR_FORMAT, "too small", "header length 1");
    free(b);
    b = image(&len, 0, "", 0);
    expect_bad(b, len, RH_ERR_FORMAT, "too small", "header length 0");
    free(b);
    // A NUL inside the header.
    b = image(&len, 4, "{}  ", 0);
    b[10] = 0;
    expect_bad(b, len, RH_ERR_FORMAT, "NUL", "NUL in header");
    free(b);

    expect_bad_header("{\"a\":", 0, "JSON", "invalid JSON");
    expect_bad_header("not json at all", 0, "JSON", "not JSON");
    expect_bad_header("[1, 2, 3]", 0, "not an object", "JSON array");
    expect_bad_header("\"text\"", 0, "not an object", "JSON string");
    expect_bad_header("{} {}", 0, "after", "two JSON values");
    expect_bad_header("{\"t\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "BF16", "unknown dtype");
    expect_bad_header("{\"t\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, "F64", "F64");
    expect_bad_header("{\"t\":{\"dtype\":7,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype", "numeric dtype");
    expect_bad_header("{\"t\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype", "missing dtype");
    expect_bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape[0]", "negative shape");
    expect_bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape[0]", "fractional shape");
    expect_bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, "shape[0]", "string dim");
    expect_bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, "shape[0]", "huge dim");
    expect_bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16, "shape", "shape not array");
    expect_bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "5 dimensions",
                      "5 dims");
    expect_bad_header("{\"t\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
                      4, "too large", "shape product overflow");
    expect_bad_header("{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,8]}}", 4, "past the data", "offsets past end");
    expect_bad_header("{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,0]}}", 4, "end before", "begin > end");
    expect_bad_header("{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0]}}", 4, "data_offsets", "one offset");
    expect_bad_header("{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,2,4]}}", 4, "data_offsets", "three offsets");
    expect_bad_header("{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,-4]}}", 4, "data_offsets", "negative offset");
    expect_bad_header("{\"t\":{\"dtype\":\"F32\",\"shape\":[10,11],\"data_offsets\":[0,400]}}", 440,
                      "data_offsets [0, 400] do not match shape [10, 11] (440 bytes)", "size mismatch");
    expect_bad_header("{\"t\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4],\"extra\":1}}", 4, "extra", "unknown field");
    expect_bad_header("{\"t\":[1,2]}", 0, "not a JSON object", "tensor not object");
    expect_bad_header("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[2,6]}}", 6, "overlap", "overlap");
    expect_bad_header("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                      "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[6,10]}}", 10, "belong to no tensor", "hole");
    expect_bad_header("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8, "belong to no tensor", "hole at 0");
    expect_bad_header("{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                      "\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8, "twice", "duplicate names");
    expect_bad_header("{\"__metadata__\":{\"k\":\"v\"},\"__metadata__\":{}}", 0, "twice", "duplicate metadata");
    expect_bad_header("{\"__metadata__\":{\"k\":1}}", 0, "not a string", "metadata number");
    expect_bad_header("{\"__metadata__\":{\"k\":{\"x\":\"y\"}}}", 0, "not a string", "metadata object value");
    expect_bad_header("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "twice", "duplicate metadata key");
    expect_bad_header("{\"__metadata__\":[\"k\"]}", 0, "__metadata__", "metadata array");
    expect_bad_header("{\"\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "bytes", "empty name");
    char longhdr[512];
    char name256[257];
    memset(name256, 'n', 256);
    name256[256] = '\0';
    snprintf(longhdr, sizeof longhdr, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", name256);
    expect_bad_header(longhdr, 1, "256 bytes", "256-byte name");
    expect_bad_header("{\"a\\nb\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "a?b", "newline in name");
    // Data section shorter and longer than the header says.
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 7, "past the data", "data short");
    expect_bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 9, "tensors use 8", "data long");

    // A 255-byte name, and padding, are fine.
    name256[255] = '\0';
    snprintf(longhdr, sizeof longhdr, "{\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}   ", name256);
    b = image(&len, strlen(longhdr), longhdr, 1);
    rh_weights *w = NULL;
    char err[256];
    CHECK(rh_weights_from_memory(&w, b, len, err, sizeof err) == RH_OK, "255-byte name refused: %s", err);
    rh_weights_close(w);
    free(b);

    // Every truncation of a valid file is refused, from memory and from disk.
    uint8_t *valid = small_valid(&len);
    CHECK(valid != NULL, "no small file");
    if (!valid)
        return;
    CHECK(rh_weights_from_memory(&w, valid, len, err, sizeof err) == RH_OK, "small file refused: %s", err);
    rh_weights_close(w);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); // exact size, so any over-read is caught by ASan
        memcpy(copy, valid, cut);
        rh_status st = rh_weights_from_memory(&w, copy, cut, err, sizeof err);
        CHECK(st == RH_ERR_FORMAT && w == NULL && one_line(err), "truncation to %zu bytes: status %d", cut, st);
        free(copy);
    }
    char path[128];
    path_in_dir(path, sizeof path, "cut.safetensors");
    for (size_t cut = 0; cut < len; cut++) {
        write_bytes(path, valid, cut);
        rh_status st = rh_weights_open(&w, path, err, sizeof err);
        CHECK(st == RH_ERR_FORMAT && w == NULL && one_line(err), "file cut to %zu bytes: status %d", cut, st);
    }

    // Random byte flips: never a crash, and either a clean error or a file whose fields are all readable.
    rh_rng rng;
    rh_rng_seed(&rng, 77);
    int accepted = 0;
    uint8_t *copy = malloc(len);
    for (int iter = 0; iter < 4000; iter++) {
        memcpy(copy, valid, len);
        int flips = 1 + (int)rh_rng_below(&rng, 4);
        for (int k = 0; k < flips; k++) {
            size_t at = rh_rng_below(&rng, (uint32_t)len);
            // Bias towards the header, where structure lives; sometimes write printable JSON characters.
            if (iter % 2 && at > 8 + 60)
                at = 8 + rh_rng_below(&rng, 60);
            copy[at] = iter % 3 ? (uint8_t)rh_rng_below(&rng, 256) : (uint8_t)"{}[]\",:0123456789-.e "[rh_rng_below(&rng, 21)];
        }
        err[0] = '\0';
        rh_status st = rh_weights_from_memory(&w, copy, len, err, sizeof err);
        if (st == RH_OK) {
            accepted++;
            touch_all(w);
            rh_weights_close(w);
        } else {
            CHECK((st == RH_ERR_FORMAT || st == RH_ERR_NO_MEMORY) && w == NULL && one_line(err),
                  "flip %d: status %d, message '%s'", iter, st, err);
        }
    }
    CHECK(accepted > 0 && accepted < 4000, "%d of 4000 flipped files accepted", accepted);
    free(copy);
    free(valid);
}

static void test_load_tensors(void)
{
    char path[128], err[256] = "";
    path_in_dir(path, sizeof path, "model.safetensors");
    float W[6] = {1, 2, 3, 4, 5, 6}, bias[3] = {-1, -2, -3}, bad[2] = {1, NAN};
    int32_t ids[3] = {1, 2, 3};
    const rh_blob blobs[] = {
        {"m.W", RH_DTYPE_F32, 2, {2, 3, 0, 0}, W},
        {"m.b", RH_DTYPE_F32, 1, {3, 0, 0, 0}, bias},
        {"ids", RH_DTYPE_I32, 1, {3, 0, 0, 0}, ids},
        {"nan", RH_DTYPE_F32, 1, {2, 0, 0, 0}, bad},
    };
    CHECK(rh_weights_write(path, NULL, 0, blobs, 4, err, sizeof err) == RH_OK, "write: %s", err);
    rh_weights *w = NULL;
    CHECK(rh_weights_open(&w, path, err, sizeof err) == RH_OK, "open: %s", err);
    if (!w)
        return;
    // Table order differs from file order on purpose.
    rh_tensor t[2] = {
        {"b", 1, {3, 0, 0, 0}, 6, 3, RH_INIT_ZERO, 0},
        {"W", 2, {2, 3, 0, 0}, 0, 6, RH_INIT_ZERO, 0},
    };
    float buf[9];
    memset(buf, 0, sizeof buf);
    CHECK(rh_weights_load_tensors(w, buf, t, 2, "m.", err, sizeof err) == RH_OK, "load: %s", err);
    CHECK(memcmp(buf, W, sizeof W) == 0 && memcmp(buf + 6, bias, sizeof bias) == 0, "loaded values differ");
    // Each table entry also round-trips through rh_blob_from_tensor.
    rh_blob fromt = rh_blob_from_tensor(&t[0], buf);
    CHECK(fromt.dtype == RH_DTYPE_F32 && fromt.ndim == 1 && fromt.shape[0] == 3 && fromt.data == buf + 6 &&
              strcmp(fromt.name, "b") == 0,
          "rh_blob_from_tensor");

    rh_tensor wrong = {"W", 2, {3, 2, 0, 0}, 0, 6, RH_INIT_ZERO, 0};
    rh_status st = rh_weights_load_tensors(w, buf, &wrong, 1, "m.", err, sizeof err);
    CHECK(st == RH_ERR_SHAPE && strstr(err, "m.W") && one_line(err), "transposed shape: %d %s", st, err);
    rh_tensor flat = {"W", 1, {6, 0, 0, 0}, 0, 6, RH_INIT_ZERO, 0};
    st = rh_weights_load_tensors(w, buf, &flat, 1, "m.", err, sizeof err);
    CHECK(st == RH_ERR_SHAPE && strstr(err, "m.W"), "flattened shape: %d %s", st, err);
    rh_tensor idt = {"ids", 1, {3, 0, 0, 0}, 0, 3, RH_INIT_ZERO, 0};
    st = rh_weights_load_tensors(w, buf, &idt, 1, NULL, err, sizeof err);
    CHECK(st == RH_ERR_FORMAT && strstr(err, "ids") && strstr(err, "I32"), "wrong dtype: %d %s", st, err);
    rh_tensor missing = {"c", 1, {3, 0, 0, 0}, 0, 3, RH_INIT_ZERO, 0};
    st = rh_weights_load_tensors(w, buf, &missing, 1, "m.", err, sizeof err);
    CHECK(st == RH_ERR_FORMAT && strstr(err, "m.c") && strstr(err, "missing"), "missing: %d %s", st, err);
    st = rh_weights_load_tensors(w, buf, &t[1], 1, NULL, err, sizeof err);
    CHECK(st == RH_ERR_FORMAT && strstr(err, "'W'"), "without the prefix: %d %s", st, err);
    rh_tensor nan_t = {"nan", 1, {2, 0, 0, 0}, 0, 2, RH_INIT_ZERO, 0};
    st = rh_weights_load_tensors(w, buf, &nan_t, 1, NULL, err, sizeof err);
    CHECK(st == RH_ERR_NOT_FINITE && strstr(err, "nan"), "NaN: %d %s", st, err);
    rh_weights_close(w);
}

static void test_atomic(void)
{
    char path[128], err[256] = "";
    float big[1000], small[3] = {7, 8, 9};
    for (int i = 0; i < 1000; i++)
        big[i] = (float)i;
    const rh_blob bigb = {"x", RH_DTYPE_F32, 1, {1000, 0, 0, 0}, big};
    const rh_blob smallb = {"y", RH_DTYPE_F32, 1, {3, 0, 0, 0}, small};

    // Open on a path that does not exist: the exact message the host shows.
    path_in_dir(path, sizeof path, "absent.safetensors");
    rh_weights *w = (rh_weights *)&err;
    rh_status st = rh_weights_open(&w, path, err, sizeof err);
    char want[256];
    snprintf(want, sizeof want, "cannot open %s: No such file or directory", path);
    CHECK(st == RH_ERR_IO && w == NULL && strcmp(err, want) == 0, "absent file: %d '%s'", st, err);

    // Into a directory that does not exist: an I/O error and no temp file anywhere.
    path_in_dir(path, sizeof path, "nodir/out.safetensors");
    st = rh_weights_write(path, NULL, 0, &smallb, 1, err, sizeof err);
    CHECK(st == RH_ERR_IO && one_line(err) && strstr(err, "No such file"), "missing directory: %d '%s'", st, err);
    char nodir[128];
    path_in_dir(nodir, sizeof nodir, "nodir");
    struct stat sb;
    CHECK(stat(nodir, &sb) != 0, "the missing directory appeared");
    CHECK(count_temp_files(dir) == 0, "temp file left after a failed write");

    // Overwriting replaces the file completely (a shorter file leaves no tail of the longer one).
    path_in_dir(path, sizeof path, "over.safetensors");
    CHECK(rh_weights_write(path, NULL, 0, &bigb, 1, err, sizeof err) == RH_OK, "big write: %s", err);
    CHECK(rh_weights_write(path, NULL, 0, &smallb, 1, err, sizeof err) == RH_OK, "small write: %s", err);
    CHECK(rh_weights_open(&w, path, err, sizeof err) == RH_OK, "reopen: %s", err);
    if (w) {
        rh_blob b;
        CHECK(rh_weights_count(w) == 1 && rh_weights_get(w, 0, &b) == RH_OK && strcmp(b.name, "y") == 0 &&
                  memcmp(b.data, small, sizeof small) == 0,
              "overwritten file has the wrong content");
        rh_weights_close(w);
    }
    size_t before_len;
    uint8_t *before = read_all(path, &before_len);
    CHECK(before_len < 200, "overwritten file is %zu bytes", before_len);
    CHECK(count_temp_files(dir) == 0, "temp file left after overwriting");

    // Invalid arguments leave the target alone.
    const rh_blob dup[2] = {bigb, bigb};
    st = rh_weights_write(path, NULL, 0, dup, 2, err, sizeof err);
    CHECK(st == RH_ERR_INVALID_ARGUMENT && strstr(err, "twice"), "duplicate blob names: %d %s", st, err);
    rh_blob reserved = smallb;
    reserved.name = "__metadata__";
    st = rh_weights_write(path, NULL, 0, &reserved, 1, err, sizeof err);
    CHECK(st == RH_ERR_INVALID_ARGUMENT, "blob named __metadata__: %d", st);
    rh_blob baddtype = smallb;
    baddtype.dtype = 9;
    st = rh_weights_write(path, NULL, 0, &baddtype, 1, err, sizeof err);
    CHECK(st == RH_ERR_INVALID_ARGUMENT, "unknown dtype written: %d", st);

    // A short write (here: over the file-size limit) is an error with errno's text, leaving the target
    // as it was and no temp file. Run in a child so the limit does not outlive the check.
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        check_failures = 0; // report only this child's checks
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl;
        getrlimit(RLIMIT_FSIZE, &rl);
        rl.rlim_cur = 1024;
        setrlimit(RLIMIT_FSIZE, &rl);
        st = rh_weights_write(path, NULL, 0, &bigb, 1, err, sizeof err);
        CHECK(st == RH_ERR_IO && strstr(err, strerror(EFBIG)) && one_line(err), "short write: %d '%s'", st, err);
        _exit(check_failures ? 1 : 0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
          "short-write child failed (status %d)", status);
    size_t after_len;
    uint8_t *after = read_all(path, &after_len);
    CHECK(before && after && after_len == before_len && memcmp(before, after, before_len) == 0,
          "a failed write changed the target");
    CHECK(count_temp_files(dir) == 0, "temp file left after a short write");
    free(before);
    free(after);
}

/* rh_weights_write follows a link (the link stays, its target is replaced) and writes a FIFO directly;
 * rh_weights_write_fd puts the same bytes on any descriptor. */
static void test_links_and_fd(void)
{
    char plain[128], target[128], link[128], chain[128], fifo[128], err[256] = "";
    float v[5] = {1, 2, 3, 4, 5};
    const rh_blob b = {"v", RH_DTYPE_F32, 1, {5, 0, 0, 0}, v};
    const rh_meta m = {"k", "value"};
    path_in_dir(plain, sizeof plain, "plain.safetensors");
    CHECK(rh_weights_write(plain, &m, 1, &b, 1, err, sizeof err) == RH_OK, "plain write: %s", err);
    size_t want_len = 0, got_len = 0;
    uint8_t *want = read_all(plain, &want_len), *got;

    // a link to a file that does not exist yet, then a chain of two links onto it
    path_in_dir(target, sizeof target, "target.safetensors");
    path_in_dir(link, sizeof link, "link.safetensors");
    path_in_dir(chain, sizeof chain, "chain.safetensors");
    CHECK(symlink("target.safetensors", link) == 0 && symlink("link.safetensors", chain) == 0, "symlink");
    for (int round = 0; round < 2; round++) {
        const char *through = round ? chain : link;
        CHECK(rh_weights_write(through, &m, 1, &b, 1, err, sizeof err) == RH_OK, "write through %s: %s", through, err);
        struct stat st;
        CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "round %d: the link was replaced", round);
        CHECK(lstat(chain, &st) == 0 && S_ISLNK(st.st_mode), "round %d: the chain's first link was replaced", round);
        got = read_all(target, &got_len);
        CHECK(got && got_len == want_len && memcmp(got, want, want_len) == 0, "round %d: the target's bytes", round);
        free(got);
    }
    CHECK(count_temp_files(dir) == 0, "temp file left after writing through links");

    // a descriptor: the same bytes from where it stands
    char fdpath[128];
    path_in_dir(fdpath, sizeof fdpath, "by-fd.bin");
    FILE *f = fopen(fdpath, "wb");
    CHECK(f && fputs("head", f) >= 0 && fflush(f) == 0, "by-fd.bin");
    CHECK(f && rh_weights_write_fd(fileno(f), &m, 1, &b, 1, err, sizeof err) == RH_OK, "write_fd: %s", err);
    if (f)
        fclose(f);
    got = read_all(fdpath, &got_len);
    CHECK(got && got_len == want_len + 4 && memcmp(got, "head", 4) == 0 && memcmp(got + 4, want, want_len) == 0,
          "write_fd wrote other bytes (%zu, want 4 + %zu)", got_len, want_len);
    free(got);
    CHECK(rh_weights_write_fd(-1, &m, 1, &b, 1, err, sizeof err) == RH_ERR_INVALID_ARGUMENT, "write_fd(-1)");
    int fds[2];
    CHECK(pipe(fds) == 0, "pipe");
    close(fds[0]);
    signal(SIGPIPE, SIG_IGN);
    rh_status st = rh_weights_write_fd(fds[1], &m, 1, &b, 1, err, sizeof err);
    CHECK(st == RH_ERR_IO && strstr(err, "cannot write: ") == err && one_line(err), "a closed pipe: %d '%s'", st, err);
    signal(SIGPIPE, SIG_DFL);
    close(fds[1]);

    // a FIFO is written, not replaced: a child reads it into a file
    path_in_dir(fifo, sizeof fifo, "fifo");
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo");
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        char out[160];
        snprintf(out, sizeof out, "%s.out", fifo);
        size_t n = 0;
        uint8_t *all = read_all(fifo, &n);
        _exit(all && write_bytes(out, all, n) ? 0 : 1);
    }
    CHECK(rh_weights_write(fifo, &m, 1, &b, 1, err, sizeof err) == RH_OK, "write into a FIFO: %s", err);
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0, "FIFO reader");
    struct stat fst;
    CHECK(lstat(fifo, &fst) == 0 && S_ISFIFO(fst.st_mode), "the FIFO was replaced by a file");
    char out[160];
    snprintf(out, sizeof out, "%s.out", fifo);
    got = read_all(out, &got_len);
    CHECK(got && got_len == want_len && memcmp(got, want, want_len) == 0, "the FIFO's reader got other bytes");
    free(got);
    free(want);
}

// The half that bits h stands for, computed independently of the SDK from the binary16 definition.
static double half_value(uint16_t h)
{
    const int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (exp == 31)
        return man ? NAN : sign * INFINITY;
    if (exp == 0)
        return sign * ldexp(man, -24);
    return sign * ldexp(1024 + man, exp - 25);
}

// h is the correctly rounded half of finite x: nearest, ties to even, past 65504 only when the rounding
// does carry (x >= 65520). Positive magnitude m + 1 at 0x7c00 stands for 65536, the next step up.
static int is_nearest_half(float x, uint16_t h)
{
    if (((h & 0x8000) != 0) != (signbit(x) != 0))
        return 0;
    const double a = fabs((double)x);
    const uint16_t m = h & 0x7fff;
    if (m == 0x7c00)
        return a >= 65520.0;
    if (m > 0x7c00)
        return 0;
    const double here = fabs(a - half_value(m));
    const double up = fabs(a - (m == 0x7bff ? 65536.0 : half_value((uint16_t)(m + 1))));
    const double down = m > 0 ? fabs(a - half_value((uint16_t)(m - 1))) : INFINITY;
    if (here > up || here > down)
        return 0;
    return (here != up && here != down) || (m & 1) == 0;
}

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t float_to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* rh_half_from_float_exact (halfstep.h): every finite half is found exactly, with its own bits; a float
 * between two halves, past the largest, below the smallest or not finite is not one. */
static void test_half_exact(void)
{
    int bad = 0;
    uint16_t h;
    for (uint32_t i = 0; i < 65536; i++) {
        const float f = rh_f16_to_f32((uint16_t)i);
        if (!isfinite(f))
            continue;
        bad += !rh_half_from_float_exact(f, &h) || h != i;
        // The next float up is never a half: halves lie 2^13 float steps apart (at least).
        bad += rh_half_from_float_exact(nextafterf(f, INFINITY), &h) != 0;
    }
    CHECK(bad == 0, "%d halves are not recognised exactly", bad);
    const float not_halves[] = {0.1f, 1.0f + 0x1p-11f, 65505.0f, 65536.0f, 1e10f, 0x1p-25f, 1.5f * 0x1p-24f, 1e-40f,
                                INFINITY, -INFINITY, NAN};
    for (size_t i = 0; i < sizeof not_halves / sizeof *not_halves; i++)
        CHECK(!rh_half_from_float_exact(not_halves[i], &h), "%g taken for a half", (double)not_halves[i]);
    CHECK(rh_half_from_float_exact(-0.0f, &h) && h == 0x8000, "-0 gives 0x%04x", h);
    CHECK(rh_half_from_float_exact(0x3ffp-24f, &h) && h == 0x03ff, "the largest subnormal gives 0x%04x", h);
    CHECK(rh_half_from_float_exact(-65504.0f, &h) && h == 0xfbff, "-65504 gives 0x%04x", h);
}

static void test_f16_conversions(void)
{
    // Every half widens exactly and narrows back to itself; NaNs stay NaN both ways.
    int bad_decode = 0, bad_trip = 0, bad_nan = 0;
    for (uint32_t i = 0; i < 65536; i++) {
        const uint16_t h = (uint16_t)i;
        const float f = rh_f16_to_f32(h);
        const double want = half_value(h);
        if (isnan(want)) {
            const uint16_t back = rh_f32_to_f16(f);
            bad_nan += !isnan(f) || (back & 0x7c00) != 0x7c00 || (back & 0x3ff) == 0;
            continue;
        }
        // Compared as values, and the sign of zero separately (signbit may return any nonzero value).
        bad_decode += (double)f != want || !signbit(f) != !signbit(want);
        bad_trip += rh_f32_to_f16(f) != h;
    }
    CHECK(bad_decode == 0, "%d halves decode to the wrong float", bad_decode);
    CHECK(bad_trip == 0, "%d halves do not survive f16 -> f32 -> f16", bad_trip);
    CHECK(bad_nan == 0, "%d NaN halves lost their NaN-ness", bad_nan);

    const struct {
        float x;
        uint16_t h;
        const char *what;
    } known[] = {
        {1.0f, 0x3c00, "1"},
        {-2.0f, 0xc000, "-2"},
        {0.5f, 0x3800, "0.5"},
        {65504.0f, 0x7bff, "65504, the largest half"},
        {65519.0f, 0x7bff, "65519 rounds down to the largest half"},
        {65520.0f, 0x7c00, "65520 rounds up to infinity"},
        {-65520.0f, 0xfc00, "-65520 rounds to -infinity"},
        {1e10f, 0x7c00, "1e10 overflows"},
        {3.4e38f, 0x7c00, "near FLT_MAX overflows"},
        {INFINITY, 0x7c00, "infinity"},
        {-INFINITY, 0xfc00, "-infinity"},
        {0.0f, 0x0000, "0"},
        {-0.0f, 0x8000, "-0"},
        {0x1p-14f, 0x0400, "2^-14, the smallest normal"},
        {0x1p-24f, 0x0001, "2^-24, the smallest subnormal"},
        {-0x1p-24f, 0x8001, "-2^-24"},
        {0x1p-25f, 0x0000, "2^-25 ties to even zero"},
        {-0x1p-25f, 0x8000, "-2^-25 ties to -0"},
        {0x1.000002p-25f, 0x0001, "just above 2^-25 rounds up"},
        {0x1p-26f, 0x0000, "2^-26 underflows"},
        {1e-40f, 0x0000, "a float subnormal underflows"},
        {0x3ffp-24f, 0x03ff, "the largest subnormal"},
        // Ties: halfway between two halves goes to the one with an even last bit.
        {1.0f + 0x1p-11f, 0x3c00, "1 + 2^-11 ties down to 1"},
        {1.0f + 3 * 0x1p-11f, 0x3c02, "1 + 3*2^-11 ties up to 1 + 2^-9"},
        {1.0f + 0x1p-11f + 0x1p-23f, 0x3c01, "just above a tie rounds up"},
        {2049.0f, 0x6800, "2049 ties down to 2048"},
        {2051.0f, 0x6802, "2051 ties up to 2052"},
        {1.5f * 0x1p-24f, 0x0002, "1.5 * 2^-24 ties up to 2 * 2^-24"},
        {2.5f * 0x1p-24f, 0x0002, "2.5 * 2^-24 ties down to 2 * 2^-24"},
        {1023.5f * 0x1p-24f, 0x0400, "a tie past the largest subnormal reaches the smallest normal"},
        {0.1f, 0x2e66, "0.1"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        const uint16_t got = rh_f32_to_f16(known[i].x);
        CHECK(got == known[i].h, "%s: got 0x%04x, want 0x%04x", known[i].what, got, known[i].h);
    }
    CHECK(rh_f16_to_f32(0x7bff) == 65504.0f && rh_f16_to_f32(0x0001) == 0x1p-24f &&
              rh_f16_to_f32(0x3555) == 0x1.554p-2f && signbit(rh_f16_to_f32(0x8000)) && rh_f16_to_f32(0x8000) == 0,
          "known decodes");
    const uint32_t nans[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7fa00000u, 0xff800fffu};
    for (size_t i = 0; i < sizeof nans / sizeof *nans; i++) {
        const uint16_t h = rh_f32_to_f16(bits_to_float(nans[i]));
        CHECK((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0 && ((h & 0x8000) != 0) == ((nans[i] >> 31) != 0),
              "NaN 0x%08x became 0x%04x", nans[i], h);
    }

    // Every tie between neighbouring finite halves, and the floats just either side of it.
    int bad_ties = 0;
    for (uint32_t m = 0; m < 0x7bff; m++) {
        const float mid = (float)((half_value((uint16_t)m) + half_value((uint16_t)(m + 1))) / 2);
        const uint16_t even = (uint16_t)((m & 1) ? m + 1 : m);
        bad_ties += rh_f32_to_f16(mid) != even || rh_f32_to_f16(-mid) != (0x8000 | even);
        bad_ties += rh_f32_to_f16(nextafterf(mid, 0.0f)) != m;
        bad_ties += rh_f32_to_f16(nextafterf(mid, INFINITY)) != m + 1;
    }
    CHECK(bad_ties == 0, "%d ties or near-ties rounded wrongly", bad_ties);

    // Random floats around the half range (and past it both ways) round to the nearest half.
    rh_rng rng;
    rh_rng_seed(&rng, 16);
    int bad_random = 0;
    for (int i = 0; i < 300000; i++) {
        const uint32_t exp = 127 - 30 + rh_rng_below(&rng, 50); // 2^-30 .. 2^19
        const uint32_t bits = (uint32_t)(rh_rng_next(&rng) & 0x807fffffu) | exp << 23;
        const float x = bits_to_float(bits);
        const uint16_t h = rh_f32_to_f16(x);
        if (!is_nearest_half(x, h) && bad_random++ < 5)
            fprintf(stderr, "  0x%08x (%.9g) -> 0x%04x\n", float_to_bits(x), (double)x, h);
    }
    CHECK(bad_random == 0, "%d random floats not rounded to the nearest half", bad_random);
}

static void test_f16_file(void)
{
    char path[128], err[256] = "";
    path_in_dir(path, sizeof path, "half.safetensors");
    const float W[6] = {1.0f, -2.5f, 0.1f, 65504.0f, 0x1p-24f, -0.0f};
    uint16_t Wh[6];
    for (int i = 0; i < 6; i++)
        Wh[i] = rh_f32_to_f16(W[i]);
    const float bias[3] = {0.1f, -0.2f, 0.3f};
    const uint16_t inf_h[2] = {0x3c00, 0x7c00}, nan_h[1] = {0x7e00};
    const uint8_t small[3] = {1, 2, 3};
    const rh_blob blobs[] = {
        {"m.W", RH_DTYPE_F16, 2, {2, 3, 0, 0}, Wh},
        {"m.b", RH_DTYPE_F32, 1, {3, 0, 0, 0}, bias},
        {"inf", RH_DTYPE_F16, 1, {2, 0, 0, 0}, inf_h},
        {"nan", RH_DTYPE_F16, 1, {1, 0, 0, 0}, nan_h},
        {"bytes", RH_DTYPE_U8, 1, {3, 0, 0, 0}, small},
    };
    CHECK(rh_weights_write(path, NULL, 0, blobs, 5, err, sizeof err) == RH_OK, "F16 write: %s", err);

    size_t len;
    uint8_t *raw = read_all(path, &len);
    CHECK(raw && len > 8, "cannot read back %s", path);
    if (raw && len > 8) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--)
            hl = hl << 8 | raw[i];
        CHECK(len == 8 + hl + 12 + 12 + 4 + 2 + 3, "F16 file is %zu bytes", len);
        int named = 0;
        const char *needle = "\"dtype\":\"F16\"";
        for (size_t i = 8; i + strlen(needle) <= 8 + hl && i + strlen(needle) <= len && !named; i++)
            named = memcmp(raw + i, needle, strlen(needle)) == 0;
        CHECK(named, "header does not name F16");
        // m.W comes first in the data section: -2.5 is 0xc100, stored low byte first.
        CHECK(8 + hl + 4 <= len && raw[8 + hl + 2] == 0x00 && raw[8 + hl + 3] == 0xc1, "F16 not little-endian");
        rh_weights *m = NULL;
        CHECK(rh_weights_from_memory(&m, raw, len, err, sizeof err) == RH_OK, "F16 from memory: %s", err);
        rh_weights_close(m);
        // Every truncation of it is refused.
        int accepted = 0;
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, raw, cut);
            rh_status st = rh_weights_from_memory(&m, copy, cut, err, sizeof err);
            accepted += st != RH_ERR_FORMAT || m != NULL;
            free(copy);
        }
        CHECK(accepted == 0, "%d truncations of the F16 file accepted", accepted);
    }
    free(raw);

    rh_weights *w = NULL;
    CHECK(rh_weights_open(&w, path, err, sizeof err) == RH_OK, "F16 open: %s", err);
    if (!w)
        return;
    rh_blob b;
    CHECK(rh_weights_get(w, 0, &b) == RH_OK && b.dtype == RH_DTYPE_F16 && b.ndim == 2 && b.shape[0] == 2 &&
              b.shape[1] == 3 && memcmp(b.data, Wh, sizeof Wh) == 0 && (uintptr_t)b.data % 2 == 0,
          "F16 array read back differently");

    // An F16 tensor and an F32 one load into the same layout; the halves arrive widened.
    rh_tensor t[2] = {
        {"W", 2, {2, 3, 0, 0}, 0, 6, RH_INIT_ZERO, 0},
        {"b", 1, {3, 0, 0, 0}, 6, 3, RH_INIT_ZERO, 0},
    };
    float buf[9];
    for (int i = 0; i < 9; i++)
        buf[i] = 1234.0f;
    rh_status st = rh_weights_load_tensors(w, buf, t, 2, "m.", err, sizeof err);
    CHECK(st == RH_OK, "F16 load: %d %s", st, err);
    CHECK(buf[0] == 1.0f && buf[1] == -2.5f && buf[3] == 65504.0f && buf[4] == 0x1p-24f && buf[5] == 0.0f &&
              signbit(buf[5]),
          "exact halves loaded as %g %g %g %g %g", (double)buf[0], (double)buf[1], (double)buf[3], (double)buf[4],
          (double)buf[5]);
    CHECK(buf[2] == 0.0999755859375f, "0.1 as a half loaded as %.12g", (double)buf[2]);
    for (int i = 0; i < 6; i++)
        CHECK(buf[i] == rh_f16_to_f32(Wh[i]), "element %d loaded as %g", i, (double)buf[i]);
    CHECK(memcmp(buf + 6, bias, sizeof bias) == 0, "F32 tensor beside F16 changed");

    rh_tensor wrong = {"W", 2, {3, 2, 0, 0}, 0, 6, RH_INIT_ZERO, 0};
    st = rh_weights_load_tensors(w, buf, &wrong, 1, "m.", err, sizeof err);
    CHECK(st == RH_ERR_SHAPE && strstr(err, "m.W"), "F16 transposed shape: %d %s", st, err);
    rh_tensor flat = {"W", 1, {6, 0, 0, 0}, 0, 6, RH_INIT_ZERO, 0};
    st = rh_weights_load_tensors(w, buf, &flat, 1, "m.", err, sizeof err);
    CHECK(st == RH_ERR_SHAPE, "F16 flattened shape: %d %s", st, err);
    rh_tensor inf_t = {"inf", 1, {2, 0, 0, 0}, 0, 2, RH_INIT_ZERO, 0};
    st = rh_weights_load_tensors(w, buf, &inf_t, 1, NULL, err, sizeof err);
    CHECK(st == RH_ERR_NOT_FINITE && strstr(err, "'inf'") && strstr(err, "element 1") && one_line(err),
          "F16 infinity: %d %s", st, err);
    rh_tensor nan_t = {"nan", 1, {1, 0, 0, 0}, 0, 1, RH_INIT_ZERO, 0};
    st = rh_weights_load_tensors(w, buf, &nan_t, 1, NULL, err, sizeof err);
    CHECK(st == RH_ERR_NOT_FINITE && strstr(err, "'nan'"), "F16 NaN: %d %s", st, err);
    rh_tensor u8_t = {"bytes", 1, {3, 0, 0, 0}, 0, 3, RH_INIT_ZERO, 0};
    st = rh_weights_load_tensors(w, buf, &u8_t, 1, NULL, err, sizeof err);
    CHECK(st == RH_ERR_FORMAT && strstr(err, "U8"), "U8 as a layout tensor: %d %s", st, err);
    rh_weights_close(w);

    // Hostile F16 headers: byte counts that fit another dtype, or no dtype at all, are refused.
    expect_bad_header("{\"t\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,12]}}", 12,
                      "do not match shape [3] (6 bytes)", "F16 sized as F32");
    expect_bad_header("{\"t\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,3]}}", 3,
                      "do not match shape [3] (6 bytes)", "F16 sized as U8");
    expect_bad_header("{\"t\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,7]}}", 7,
                      "do not match shape [2, 2] (8 bytes)", "F16 odd byte count");
    expect_bad_header("{\"t\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "(2 bytes)",
                      "F16 scalar with 4 bytes");
    expect_bad_header("{\"t\":{\"dtype\":\"F16\",\"shape\":[4294967296,2147483648],\"data_offsets\":[0,2]}}", 2,
                      "too large", "F16 byte count overflow");
    expect_bad_header("{\"t\":{\"dtype\":\"f16\",\"shape\":[1],\"data_offsets\":[0,2]}}", 2, "f16",
                      "lower-case dtype");
    // And a minimal well-formed one reads as little-endian halves.
    const char *minimal = "{\"t\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    size_t ilen;
    uint8_t *img = image(&ilen, strlen(minimal), minimal, 4);
    CHECK(rh_weights_from_memory(&w, img, ilen, err, sizeof err) == RH_OK, "minimal F16 refused: %s", err);
    if (w) {
        CHECK(rh_weights_get(w, 0, &b) == RH_OK && b.dtype == RH_DTYPE_F16 &&
                  ((const uint16_t *)b.data)[0] == 0xacab && ((const uint16_t *)b.data)[1] == 0xaead,
              "minimal F16 data");
        rh_weights_close(w);
    }
    free(img);
}

// Removes the test directory and everything the tests left in it.
static void cleanup(void)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    for (struct dirent *de; (de = readdir(dp));) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(dp);
    rmdir(dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/rh-weights-XXXXXX", tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    CHECK(rh_dtype_size(RH_DTYPE_F32) == 4 && rh_dtype_size(RH_DTYPE_I32) == 4 && rh_dtype_size(RH_DTYPE_U64) == 8 &&
              rh_dtype_size(RH_DTYPE_U8) == 1 && rh_dtype_size(RH_DTYPE_F16) == 2 && rh_dtype_size(5) == 0,
          "dtype sizes");
    test_round_trip();
    test_hostile();
    test_load_tensors();
    test_atomic();
    test_links_and_fd();
    test_f16_conversions();
    test_half_exact();
    test_f16_file();
    cleanup();
    TEST_EXIT();
}
