// The same checks, compiled as C++: the headers' extern "C" blocks and C99 subset must hold there too.
#include "test_headers.c"
