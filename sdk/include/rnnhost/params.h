/* rnnhost SDK: the parameter layout. A model describes its flat parameter buffer as a tensor table;
 * these functions check that table (a plugin's answers are untrusted) and initialise from it. */
#ifndef RNNHOST_PARAMS_H
#define RNNHOST_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "rng.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Checks a tensor table against num_params: names valid and unique, 1 <= ndim <= RH_MAX_DIMS, size equal
 * to the product of the shape (no overflow), tensors inside [0, num_params), no overlap, every float
 * covered, init kind known. On failure returns RH_ERR_SHAPE (or RH_ERR_FORMAT for names) and writes one
 * line into why (why_len bytes, may be 0). */
rh_status rh_layout_check(const rh_tensor *tensors, uint32_t num_tensors, uint64_t num_params, char *why,
                          size_t why_len);

/* Initialises params (num_params floats) tensor by tensor, in table order, drawing from rng. */
void rh_params_init(float *params, const rh_tensor *tensors, uint32_t num_tensors, rh_rng *rng);

/* Index of the tensor called name, or -1. */
int32_t rh_tensor_find(const rh_tensor *tensors, uint32_t num_tensors, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* RNNHOST_PARAMS_H */
