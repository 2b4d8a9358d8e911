/* Simulated rooms (room.h). */
#include "room.h"

#include <fftw3.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "spectrogram.h"

#define ROOM_MAX_LOG2 30

struct room {
    int rate;
    size_t max_n, max_len, cap; /* cap: the largest transform, a power of two >= max_n + max_len */
    float *a, *h;               /* (cap) the recording, then the product; the response (a owns the block) */
    fftwf_complex *A, *H;       /* (cap / 2 + 1) their spectra */
    fftwf_plan fwd[ROOM_MAX_LOG2 + 1], inv[ROOM_MAX_LOG2 + 1]; /* of size 2^k over these buffers, made when needed */
};

void room_free(room *r)
{
    if (!r)
        return;
    spec_fftw_lock();
    for (int k = 0; k <= ROOM_MAX_LOG2; k++) {
        if (r->fwd[k])
            fftwf_destroy_plan(r->fwd[k]);
        if (r->inv[k])
            fftwf_destroy_plan(r->inv[k]);
    }
    spec_fftw_unlock();
    fftwf_free(r->a);
    free(r);
}

room *room_new(size_t max_n, int rate, double max_seconds)
{
    room *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->rate = rate, r->max_n = max_n;
    r->max_len = (size_t)ceil(max_seconds * rate) + 1;
    for (r->cap = 16; r->cap < max_n + r->max_len && r->cap < ((size_t)1 << ROOM_MAX_LOG2); r->cap *= 2)
        ;
    /* one block: a and h, cap floats each, then the two spectra, each part 32-byte aligned as the plans
     * (made over a and A, run over h and H too) need */
    const size_t bins = r->cap / 2 + 4;
    r->a = r->cap >= max_n + r->max_len ? fftwf_malloc(2 * r->cap * sizeof(float) + 2 * bins * sizeof *r->A) : NULL;
    if (!r->a) {
        room_free(r);
        return NULL;
    }
    r->h = r->a + r->cap;
    r->A = (fftwf_complex *)(r->h + r->cap);
    r->H = r->A + bins;
    return r;
}

/* A standard normal draw from a splitmix64 state (Box-Muller, one of the pair). */
static double normal(uint64_t *s)
{
    double u[2];
    for (int i = 0; i < 2; i++) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        u[i] = ((double)(z >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

size_t room_response(const room *r, const room_draw *d, float *h, size_t cap)
{
    const size_t pre = (size_t)lround(d->predelay * r->rate) + 1;
    size_t len = pre + (size_t)ceil(d->rt60 * r->rate);
    if (len > r->max_len)
        len = r->max_len;
    if (len > cap)
        len = cap;
    if (len == 0)
        return 0;
    memset(h, 0, len * sizeof *h);
    h[0] = 1.0f;
    uint64_t s = d->seed;
    double energy = 0;
    const double fall = -3.0 * log(10.0) / (d->rt60 * r->rate); /* amplitude -60 dB over rt60 */
    for (size_t k = pre; k < len; k++) {
        const double v = normal(&s) * exp(fall * (double)(k - pre));
        h[k] = (float)v;
        energy += v * v;
    }
    if (energy > 0) {
        const float g = (float)sqrt(pow(10.0, -d->drr_db / 10.0) / energy);
        for (size_t k = pre; k < len; k++)
            h[k] *= g;
    }
    return len;
}

int room_apply(room *r, float *w, size_t n, const room_draw *d)
{
    if (n == 0)
        return 0;
    if (n > r->max_n)
        return -1;
    const size_t len = room_response(r, d, r->h, r->max_len);
    int k = 1;
    while (((size_t)1 << k) < n + len)
        k++;
    const size_t N = (size_t)1 << k;
    if (!r->fwd[k]) {
        spec_fftw_lock();
        r->fwd[k] = fftwf_plan_dft_r2c_1d((int)N, r->a, r->A, FFTW_ESTIMATE);
        r->inv[k] = fftwf_plan_dft_c2r_1d((int)N, r->A, r->a, FFTW_ESTIMATE);
        spec_fftw_unlock();
        if (!r->fwd[k] || !r->inv[k])
            return -1;
    }
    memcpy(r->a, w, n * sizeof *w);
    memset(r->a + n, 0, (N - n) * sizeof *r->a);
    memset(r->h + len, 0, (N - len) * sizeof *r->h);
    fftwf_execute_dft_r2c(r->fwd[k], r->a, r->A);
    fftwf_execute_dft_r2c(r->fwd[k], r->h, r->H);
    for (size_t i = 0; i <= N / 2; i++) {
        const float re = r->A[i][0] * r->H[i][0] - r->A[i][1] * r->H[i][1];
        const float im = r->A[i][0] * r->H[i][1] + r->A[i][1] * r->H[i][0];
        r->A[i][0] = re, r->A[i][1] = im;
    }
    fftwf_execute_dft_c2r(r->inv[k], r->A, r->a);
    double dry = 0, wet = 0;
    for (size_t i = 0; i < n; i++)
        dry += (double)w[i] * w[i], wet += (double)r->a[i] * r->a[i];
    const float g = wet > 0 ? (float)sqrt(dry / wet) : 0.0f;
    for (size_t i = 0; i < n; i++)
        w[i] = r->a[i] * g; /* the transform's factor N goes with the level */
    return 0;
}
