/* The speech model, all of it: include this one header to run or train one.
 *   asrmodel.h     the model and its description in a model file: front-end, units, directions
 *   asrunits.h     its output units, and transcripts as labels
 *   asrfrontend.h  what it hears: the padding, log-mel frames, normalisation, stacked steps
 *   asrbidir.h     its forward and backward passes over one or two directions
 *   asrread.h      a whole recording in memory */
#ifndef RNNHOST_ASR_H
#define RNNHOST_ASR_H

#include "asrbidir.h"
#include "asrfrontend.h"
#include "asrmodel.h"
#include "asrread.h"
#include "asrunits.h"

#endif /* RNNHOST_ASR_H */
