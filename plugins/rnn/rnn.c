/* stub */
#include "rnnhost/plugin.h"
