/* stub: to be written */
#include "rnnhost/rnnhost.h"
