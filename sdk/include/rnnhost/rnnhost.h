/* rnnhost SDK umbrella header. C99, no dependency beyond the C library.
 *
 * The plugin ABI (what a plugin implements and the host calls):
 *   status.h   rh_status codes and rh_strerror
 *   model.h    rh_config, rh_tensor, rh_batch, rh_model and its vtable
 *   halfstep.h model extension: step over a half-precision copy of the weights
 *   dropout.h  model extension: training with dropout, masks picked by a seed
 *   host.h     services the host offers plugins: log, create another plugin's model
 *   plugin.h   rh_plugin_entry, the one exported symbol, and RH_ABI_VERSION
 * The shared training utilities in libsdk (what hosts and trainers call):
 *   rng.h      seedable generator with savable state
 *   params.h   tensor-table checks and seeded initialisation
 *   loss.h     softmax cross-entropy, sigmoid BCE
 *   clip.h     clipping by value and global norm, finiteness
 *   optim.h    SGD, momentum, RMSProp, Adam
 *   gradcheck.h finite-difference gradient checker
 *   weights.h  safetensors reading (validated) and atomic writing
 *   sample.h   drawing a symbol from logits (temperature, top-k, argmax)
 *   ctc.h      CTC loss and gradient, greedy and prefix beam decoding (phrase-restricted)
 */
#ifndef RNNHOST_RNNHOST_H
#define RNNHOST_RNNHOST_H

#define RNNHOST_SDK_VERSION "0.1.0"

#include "status.h"
#include "model.h"
#include "halfstep.h"
#include "dropout.h"
#include "host.h"
#include "plugin.h"

#include "rng.h"
#include "params.h"
#include "loss.h"
#include "clip.h"
#include "optim.h"
#include "gradcheck.h"
#include "weights.h"
#include "sample.h"
#include "ctc.h"

#endif /* RNNHOST_RNNHOST_H */
